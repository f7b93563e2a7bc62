/*
 * test_platform.c: what platform.c promises that a unit can see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "platform.h"

static char **args;

/*
 * Log lines name the program as it started, also after it wrote its
 * process title over argv[0] (nginx: "nginx: worker process").
 */
static void
test_progname_survives_title(void **state)
{
	char before[64];
	size_t n = strlen(args[0]);

	(void) state;
	(void) strncpy(before, plat_progname(), sizeof (before) - 1);
	before[sizeof (before) - 1] = '\0';
	assert_true(before[0] != '\0');
	memset(args[0], 'x', n);
	assert_string_equal(plat_progname(), before);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progname_survives_title),
	};

	(void) argc;
	args = argv;
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
