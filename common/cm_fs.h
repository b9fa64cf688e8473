/*
 * cm_fs.h - small filesystem helpers shared by storage and mgmt. Not for the
 * hot path (they make system calls). Any thread.
 */
#ifndef CM_FS_H
#define CM_FS_H

/* mkdir -p: create path and its missing parents (mode 0755). 0 or -errno. */
int cm_mkdir_p(const char *path);

#endif /* CM_FS_H */
