/* File system helpers shared by the library, the data writers and the tools. */
#ifndef SSM_FSUTIL_H
#define SSM_FSUTIL_H

/* mkdir -p: path and its missing parents. SSM_ERR naming the folder that could not be
 * made ("... cannot create directory: <reason>", "... exists and is not a directory"). */
int ssm_mkdirs(const char *path);
/* 1 when something (a file, a folder, ...) is at path. */
int ssm_path_exists(const char *path);
/* The whole file, NUL-terminated (malloc'd); NULL with errno set when it cannot be
 * opened or read. */
char *ssm_read_text(const char *path);

#endif
