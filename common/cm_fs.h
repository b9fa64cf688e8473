/*
 * cm_fs.h - small filesystem helpers shared by storage and mgmt. Not for the
 * hot path (they make system calls). Any thread.
 */
#ifndef CM_FS_H
#define CM_FS_H

/* mkdir -p: create path and its missing parents (mode 0755). 0 or -errno. */
int cm_mkdir_p(const char *path);

#include <stddef.h>

/*
 * Take the exclusive lock of a data directory: an flock on dir/LOCK, which
 * then holds our pid. One process per directory (the daemon, or an offline
 * tool). *fd_out keeps the lock until closed. 0, -EBUSY (held by another
 * process: its pid in err), or -errno with err.
 */
int cm_fs_lock_dir(const char *dir, int *fd_out, char *err, size_t errlen);

#endif /* CM_FS_H */
