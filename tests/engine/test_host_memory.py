import subprocess
import sys
import textwrap


def test_keeping_freed_memory_removes_page_faults_of_repeated_large_temporaries():
    # A fresh interpreter each, so that the allocator setting of one cannot leak into the other.
    script = textwrap.dedent("""
        import resource, sys, torch
        if sys.argv[1] == "keep":
            from nerfplex.engine.host_memory import keep_freed_memory
            assert keep_freed_memory() and keep_freed_memory()
        x = torch.ones(2_000_000, 8)
        for _ in range(5):  # warm-up: the heap grows to hold two temporaries
            y = x * 2.0
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            y = x * 2.0  # a 64 MB temporary, freed at the next iteration
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)
    faults = {
        mode: int(
            subprocess.run([sys.executable, "-c", script, mode], check=True, capture_output=True, text=True).stdout
        )
        for mode in ("default", "keep")
    }
    pages = 20 * 2_000_000 * 8 * 4 // 4096
    assert faults["default"] > 0.9 * pages, faults  # glibc maps fresh pages for each temporary
    assert faults["keep"] < 0.5 * pages, faults
