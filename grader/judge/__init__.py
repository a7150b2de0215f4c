"""The judge: runs an exercise's tests on the host against a sandbox session, and scores them."""
