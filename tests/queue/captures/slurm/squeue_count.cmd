squeue --noheader --user=root '--format=%i|%T'
