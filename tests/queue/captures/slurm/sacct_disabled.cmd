sacct --noheader --allocations --parsable2 --jobs=999999 --format=JobID,State
