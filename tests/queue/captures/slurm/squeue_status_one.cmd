squeue --noheader --states=all --jobs=18 '--format=%i|%T'
