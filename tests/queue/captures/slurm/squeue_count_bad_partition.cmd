squeue --noheader --user=root '--format=%i|%T' --partition=nosuchpartition
