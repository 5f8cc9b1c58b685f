sbatch ok.sh
