"""newsbot's bottom layer: settings and time, standard library only; imports nothing of ours."""
