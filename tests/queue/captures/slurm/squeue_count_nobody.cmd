squeue --noheader --user=nobody '--format=%i|%T'
