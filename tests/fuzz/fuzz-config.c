/*
 * NAME
 *   fuzz-config - libFuzzer target: the configuration loader.
 *
 * SUMMARY
 *   The input is a leadgate.conf. It is written to a file and read by
 *   lg_config_load(), which parses it with GKeyFile and checks every key
 *   against the key table (types, ranges, enumerations, sets, sizes with
 *   suffixes). Either a config comes back or an error does, never both
 *   and never neither.
 *
 * SEE ALSO
 *   tests/fuzz/README, src/config.h, man leadgate.conf(5)
 */
#include "fuzz.h"
#include "config.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *path = fuzz_write("leadgate.conf", data, size);
	g_autoptr(GError) error = NULL;
	g_autoptr(lg_config) cfg = lg_config_load(path, &error);

	if ((cfg == NULL) == (error == NULL))
		abort();
	if (cfg != NULL && (cfg->database == NULL || cfg->rules_dir == NULL ||
	                    cfg->catch_all == NULL || cfg->loop_header == NULL))
		abort();
	return 0;
}
