/* Replacing a file so that nothing is ever half-written: the content goes to
 * <path>.tmp, which is fsync'd and renamed over <path>, then the folder is fsync'd
 * (the rename is durable). On any failure <path>.tmp is removed and <path> keeps its
 * old content. Used for checkpoints, safetensors and config.json. */
#ifndef SSM_REPLACE_FILE_H
#define SSM_REPLACE_FILE_H

/* Writes the whole new file at tmp_path; SSM_OK, or SSM_ERR with a message. */
typedef int (*ssm_file_writer)(const char *tmp_path, void *arg);

int ssm_replace_file(const char *path, ssm_file_writer write, void *arg);

#endif
