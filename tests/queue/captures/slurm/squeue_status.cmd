squeue --noheader --states=all --jobs=17,18,19,20,21,22,999999 '--format=%i|%T'
