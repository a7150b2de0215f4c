"""`grader similarity`: which students' current submissions of an exercise share code beyond
the skeleton and the reference solution (copydetect's winnowing), recorded in the store, with
a side-by-side report (`report`) and the portal's instructor view (`grader.portal.similarity`).
"""
