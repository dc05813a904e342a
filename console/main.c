/*  cf-console - the operator's tool  */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: cf-console <command> ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "cf-console: unknown command '%s'\n", argv[1]);
    return 2;
}
