sbatch --partition=nosuchpartition /tmp/afw-capture-2y0os85p/badpart.sh
