"""Run ``gptlab-train`` and SIGKILL it in the middle of a checkpoint write (a test tool, not a test).

    python tests/faults/kill_during_save.py SAVE BYTE RUN_DIR_PART -- [gptlab-train arguments...]

The process kills itself during its SAVE-th checkpoint write (counted from 1) into a run dir whose
path contains RUN_DIR_PART, after writing BYTE bytes of it: a real SIGKILL at a chosen point of a
real write, so a test decides where the kill lands without depending on the machine's speed.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    kill_save, kill_byte, run_dir_part = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    train_args = sys.argv[sys.argv.index("--") + 1 :]

    from gptlab import disk
    from gptlab.trainer import checkpoint

    saves = {"count": 0, "armed": False}
    real_save, real_write = checkpoint.save, disk.RecordingWriter.write

    def counting_save(state, path):
        if run_dir_part in str(path):
            saves["count"] += 1
        saves["armed"] = run_dir_part in str(path) and saves["count"] == kill_save
        return real_save(state, path)

    def write(self, data):
        if saves["armed"] and self.written + len(data) >= kill_byte:
            self.file.write(bytes(data)[: max(0, kill_byte - self.written)])
            self.file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(self, data)

    checkpoint.save = counting_save
    disk.RecordingWriter.write = write
    sys.argv = ["gptlab-train", *train_args]
    from gptlab.train import main as train_main

    train_main()


if __name__ == "__main__":
    main()
