scancel 18 20 22
