// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Writes the list of programs and maps of a BPF object as a C header, so
 * that a program or map is declared in one place: its SEC() in bpf/.
 *
 *   gen_bpf_objects OBJECT.bpf.o > OBJECT.objects.h
 *
 * For each program: an enum constant CGF_PROG_<NAME> (the name without its
 * "cgf_" prefix, upper case), its name and the attach type libbpf reads
 * from its section; LSM programs are marked, since they load only where
 * the BPF LSM is active. For each map but libbpf's own (.rodata, .bss):
 * CGF_MAP_<NAME> and its name. The loader pins exactly these.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static void print_constant(const char *kind, const char *name)
{
	if (!strncmp(name, "cgf_", 4))
		name += 4;
	printf("\tCGF_%s_", kind);
	for (; *name; name++)
		putchar(toupper((unsigned char)*name));
	printf(",\n");
}

/* {name, attach type, needs the BPF LSM}; the type by its enum name. */
static void print_prog_desc(const struct bpf_program *prog)
{
	const char *type = libbpf_bpf_attach_type_str(
		bpf_program__expected_attach_type(prog));

	printf("\t{\"%s\", BPF_", bpf_program__name(prog));
	for (; type && *type; type++)
		putchar(toupper((unsigned char)*type));
	printf(", %s}, \\\n",
	       bpf_program__type(prog) == BPF_PROG_TYPE_LSM ? "true" : "false");
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_bpf_objects OBJECT.bpf.o\n");
		return 2;
	}
	libbpf_set_print(silent);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "gen_bpf_objects: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	printf("/* Generated from %s by tools/gen_bpf_objects.c: do not "
	       "edit. */\n",
	       strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1]);
	printf("#ifndef CGFENCE_OBJECTS_H\n#define CGFENCE_OBJECTS_H\n\n");

	printf("enum cgf_prog_id {\n");
	bpf_object__for_each_program(prog, obj)
		print_constant("PROG", bpf_program__name(prog));
	printf("\tCGF_PROG__COUNT,\n};\n\n");

	printf("enum cgf_map_id {\n");
	bpf_object__for_each_map(map, obj) if (!bpf_map__is_internal(map))
		print_constant("MAP", bpf_map__name(map));
	printf("\tCGF_MAP__COUNT,\n};\n\n");

	/* In enum order. */
	printf("#define CGF_PROG_DESCS_INIT \\\n");
	bpf_object__for_each_program(prog, obj) print_prog_desc(prog);
	printf("\n");

	printf("#define CGF_MAP_NAMES_INIT \\\n");
	bpf_object__for_each_map(map, obj) if (!bpf_map__is_internal(map))
		printf("\t\"%s\", \\\n", bpf_map__name(map));
	printf("\n#endif\n");
	bpf_object__close(obj);
	return fflush(stdout) ? 1 : 0;
}
