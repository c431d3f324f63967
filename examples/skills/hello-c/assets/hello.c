/* hello - greets, and says which version it is. */
#include <stdio.h>
#include <string.h>

#define HELLO_VERSION "1.0.0"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("hello %s\n", HELLO_VERSION);
		return 0;
	}
	printf("Hello, %s!\n", argc > 1 ? argv[1] : "world");
	return 0;
}
