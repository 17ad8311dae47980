"""Print the aarch64 run step macros (BNN_ASM_TREE4, BNN_ASM_TREE2_HALVES) that
cruntime/bconv_neon.c holds, from codegen/bconv_schedule.py.

    PYTHONPATH=... python tools/schedule_trees.py > /tmp/tree4.h
"""

import sys

from bnnkit.codegen.bconv_schedule import macro

if __name__ == "__main__":
    sys.stdout.write(macro() + "\n" + macro(halves=True))
