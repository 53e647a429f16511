/* The corpus replayed without libFuzzer: every file named on the command
 * line, or in a directory named there, goes through the target's
 * LLVMFuzzerTestOneInput once. Fails when an input crashes it (sanitizers
 * abort) or when there is no input at all. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static bool replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *data = NULL;
    bool ok = f != NULL && fstat(fileno(f), &st) == 0 && (data = malloc((size_t)st.st_size + 1)) != NULL &&
              fread(data, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
    if (ok) {
        LLVMFuzzerTestOneInput(data, (size_t)st.st_size);
    } else {
        fprintf(stderr, "replay: cannot read %s\n", path);
    }
    free(data);
    if (f != NULL) {
        fclose(f);
    }
    return ok;
}

/* every regular file of the directory; the number replayed, or -1 */
static int replay_directory(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return replay_file(dir) ? 1 : -1;
    }
    int n = 0;
    struct dirent *e;
    char path[4096];
    while (n >= 0 && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            n = replay_file(path) ? n + 1 : -1;
        }
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int i = 1; i < argc; i++) {
        const int n = replay_directory(argv[i]);
        if (n < 0) {
            return 1;
        }
        total += n;
    }
    printf("replayed %d inputs without a crash\n", total);
    return total > 0 ? 0 : 1;
}
