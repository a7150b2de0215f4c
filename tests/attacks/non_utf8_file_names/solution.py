"""Attack: the racy counter (the no_lock mutant, honestly 6/10) handed in as a folder that also
holds a file and a folder whose names are bytes that are not UTF-8 (see attack.toml)."""

import racy

SafeCounter = racy.SafeCounter
parallel_count = racy.make_parallel_count(SafeCounter)
