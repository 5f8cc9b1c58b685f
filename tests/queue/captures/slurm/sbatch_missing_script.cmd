sbatch /tmp/afw-capture-2y0os85p/missing.sh
