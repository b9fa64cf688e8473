/*
 * test_dp_place.c - unit tests for dataplane/dp_place.c: topology loading
 * from synthetic hwloc descriptions, the placement plan for each policy
 * rule in dp_place.h (port node first, spread for any, core 0 reserved,
 * SMT siblings, too small, the single-core degrade), invariants checked on
 * every plan, and binding the calling thread on the real machine (skipped
 * where the process may not bind).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_place.h"

/* Set when the machine refuses thread binding: the binary then reports SKIP (77). */
static bool bind_unavailable;

#define TWO_NODES "numa:2 core:4 pu:2"

static struct dp_place_plan plan;
static char err[128];

static struct dp_topo *load(const char *synthetic)
{
	struct dp_topo *t = NULL;

	assert_int_equal(dp_topo_load(synthetic, &t), 0);
	assert_non_null(t);
	return t;
}

static int plan_for(struct dp_topo *t, uint32_t workers, int port_node, bool smt)
{
	struct dp_place_cfg cfg = {
		.workers = workers, .port_numa_node = port_node,
		.use_smt_siblings = smt, .mgmt_threads = 2,
	};

	memset(&plan, 0xa5, sizeof(plan));
	return dp_place_plan(t, &cfg, &plan, err, sizeof(err));
}

static bool core_has_cpu(const struct dp_topo *t, uint32_t core, uint32_t cpu)
{
	uint32_t pus[8];
	uint32_t n = dp_topo_core_pus(t, core, pus, 8);

	for (uint32_t i = 0; i < n && i < 8; i++)
		if (pus[i] == cpu)
			return true;
	return false;
}

/* Every plan: homes consistent with the topology, nothing used twice, mgmt apart. */
static void check_plan(const struct dp_topo *t, bool smt)
{
	assert_true(plan.nworkers >= 1);
	assert_int_equal(plan.mgmt_threads, 2);
	assert_true(plan.nmgmt_cpus >= 1);
	for (uint32_t i = 0; i < plan.nworkers; i++) {
		const struct dp_place_worker *w = &plan.workers[i];

		assert_true(w->core < dp_topo_cores(t));
		assert_int_equal(w->numa_node, dp_topo_core_node(t, w->core));
		assert_true(core_has_cpu(t, w->core, w->os_cpu));
		for (uint32_t j = 0; j < i; j++) {
			assert_int_not_equal(w->os_cpu, plan.workers[j].os_cpu);
			if (!smt)
				assert_int_not_equal(w->core, plan.workers[j].core);
		}
		for (uint32_t m = 0; m < plan.nmgmt_cpus && !plan.shared_core; m++)
			assert_false(core_has_cpu(t, w->core, plan.mgmt_cpus[m]));
	}
	for (uint32_t m = 1; m < plan.nmgmt_cpus; m++)
		assert_true(plan.mgmt_cpus[m - 1] < plan.mgmt_cpus[m]);
}

static void test_dp_place__topo_synthetic(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);
	uint32_t pus[4];

	assert_int_equal(dp_topo_numa_nodes(t), 2);
	assert_int_equal(dp_topo_cores(t), 8);
	assert_int_equal(dp_topo_node_cores(t, 0), 4);
	assert_int_equal(dp_topo_node_cores(t, 1), 4);
	assert_int_equal(dp_topo_node_cores(t, 2), 0);
	assert_int_equal(dp_topo_pus(t), 16);
	assert_int_equal(dp_topo_core_node(t, 3), 0);
	assert_int_equal(dp_topo_core_node(t, 4), 1);
	assert_int_equal(dp_topo_core_node(t, 8), UINT32_MAX);
	assert_int_equal(dp_topo_core_pus(t, 5, pus, 4), 2);
	assert_int_equal(pus[0], 10);
	assert_int_equal(pus[1], 11);
	assert_int_equal(dp_topo_core_pus(t, 8, pus, 4), 0);
	dp_topo_destroy(t);
	dp_topo_destroy(NULL);
}

static void test_dp_place__topo_bad_synthetic(void **state)
{
	(void)state;
	struct dp_topo *t = NULL;

	assert_int_equal(dp_topo_load("frobnicate:3", &t), -EINVAL);
	assert_null(t);
}

static void test_dp_place__port_node_first(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);
	static const uint32_t want_mgmt[] = {0, 1, 2, 3, 4, 5, 6, 7};

	assert_int_equal(plan_for(t, 4, 1, false), 0);
	check_plan(t, false);
	assert_int_equal(plan.nworkers, 4);
	assert_int_equal(plan.remote_workers, 0);
	assert_false(plan.shared_core);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(plan.workers[i].numa_node, 1);
		assert_int_equal(plan.workers[i].core, 4 + i);
		assert_int_equal(plan.workers[i].os_cpu, 8 + 2 * i);  /* first PU */
	}
	/* node 0 is all management; node 1's siblings stay idle */
	assert_int_equal(plan.nmgmt_cpus, 8);
	assert_memory_equal(plan.mgmt_cpus, want_mgmt, sizeof(want_mgmt));
	dp_topo_destroy(t);
}

static void test_dp_place__port_node_spills(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);

	/* 6 workers, port on node 0: its 3 free cores, then 3 on node 1 */
	assert_int_equal(plan_for(t, 6, 0, false), 0);
	check_plan(t, false);
	assert_int_equal(plan.remote_workers, 3);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(plan.workers[i].core, 1 + i);
	assert_int_equal(plan.nmgmt_cpus, 4);   /* core 0 and core 7 */
	assert_int_equal(plan.mgmt_cpus[0], 0);
	assert_int_equal(plan.mgmt_cpus[1], 1);
	assert_int_equal(plan.mgmt_cpus[2], 14);
	assert_int_equal(plan.mgmt_cpus[3], 15);
	dp_topo_destroy(t);
}

static void test_dp_place__any_spreads(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);
	static const uint32_t want_core[] = {1, 4, 2, 5, 3, 6, 7};

	assert_int_equal(plan_for(t, 7, -1, false), 0);
	check_plan(t, false);
	assert_int_equal(plan.remote_workers, 0);
	for (uint32_t i = 0; i < 7; i++) {
		assert_int_equal(plan.workers[i].core, want_core[i]);
		assert_int_equal(plan.workers[i].os_cpu, 2 * want_core[i]);
	}
	assert_int_equal(plan.nmgmt_cpus, 2);   /* core 0 only */
	assert_int_equal(plan.mgmt_cpus[0], 0);
	assert_int_equal(plan.mgmt_cpus[1], 1);
	dp_topo_destroy(t);
}

static void test_dp_place__too_many_workers(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);

	assert_int_equal(plan_for(t, 8, 1, false), -ENOSPC);
	assert_string_equal(err, "need 9 cores for 8 workers plus management, machine has 8");
	assert_int_equal(plan_for(t, 8, -1, false), -ENOSPC);
	dp_topo_destroy(t);
}

static void test_dp_place__smt_siblings(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);

	/* the 8 that did not fit on cores fit on PUs: node 1's cores, then its siblings */
	assert_int_equal(plan_for(t, 8, 1, true), 0);
	check_plan(t, true);
	assert_int_equal(plan.remote_workers, 0);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(plan.workers[i].os_cpu, 8 + 2 * i);
		assert_int_equal(plan.workers[4 + i].os_cpu, 9 + 2 * i);
		assert_int_equal(plan.workers[4 + i].core, 4 + i);
	}
	assert_int_equal(plan.nmgmt_cpus, 8);   /* all of node 0 */

	/* without a port node, first PUs everywhere come before any sibling */
	assert_int_equal(plan_for(t, 8, -1, true), 0);
	check_plan(t, true);
	for (uint32_t i = 0; i < 7; i++)
		assert_int_equal(plan.workers[i].os_cpu % 2, 0);
	assert_int_equal(plan.workers[7].os_cpu, 3);      /* core 1's sibling */

	assert_int_equal(plan_for(t, 15, -1, true), -ENOSPC);
	assert_string_equal(err, "need 17 cpus for 15 workers plus management, machine has 16");
	assert_int_equal(plan_for(t, 14, -1, true), 0);
	check_plan(t, true);
	assert_int_equal(plan.nmgmt_cpus, 2);
	dp_topo_destroy(t);
}

static void test_dp_place__two_cores_one_worker(void **state)
{
	(void)state;
	struct dp_topo *t = load("numa:1 core:2 pu:1");

	assert_int_equal(dp_topo_numa_nodes(t), 1);
	assert_int_equal(plan_for(t, 1, -1, false), 0);
	check_plan(t, false);
	assert_int_equal(plan.workers[0].core, 1);
	assert_int_equal(plan.workers[0].os_cpu, 1);
	assert_int_equal(plan.workers[0].numa_node, 0);
	assert_false(plan.shared_core);
	assert_int_equal(plan.nmgmt_cpus, 1);
	assert_int_equal(plan.mgmt_cpus[0], 0);
	assert_int_equal(plan_for(t, 1, 0, true), 0);   /* same with SMT: nothing to share */
	assert_int_equal(plan.workers[0].os_cpu, 1);
	assert_int_equal(plan_for(t, 2, -1, false), -ENOSPC);
	assert_string_equal(err, "need 3 cores for 2 workers plus management, machine has 2");
	dp_topo_destroy(t);
}

static void test_dp_place__one_core_degrades(void **state)
{
	(void)state;
	struct dp_topo *t = load("numa:1 core:1 pu:1");

	assert_int_equal(plan_for(t, 1, -1, false), 0);
	check_plan(t, false);
	assert_true(plan.shared_core);
	assert_int_equal(plan.workers[0].os_cpu, 0);
	assert_int_equal(plan.nmgmt_cpus, 1);
	assert_int_equal(plan.mgmt_cpus[0], 0);
	assert_int_equal(plan_for(t, 2, -1, false), -ENOSPC);
	dp_topo_destroy(t);
}

static void test_dp_place__bad_cfg(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);
	struct dp_place_cfg cfg = {.workers = 1, .port_numa_node = 2};

	assert_int_equal(dp_place_plan(t, &cfg, &plan, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port numa node 2 not in topology (2 nodes)");
	cfg.port_numa_node = -2;
	assert_int_equal(dp_place_plan(t, &cfg, &plan, NULL, 0), -EINVAL);
	assert_int_equal(plan_for(t, 0, -1, false), -EINVAL);
	assert_string_equal(err, "workers 0 not in 1..128");
	assert_int_equal(plan_for(t, DP_PLACE_WORKERS_MAX + 1, -1, false), -EINVAL);
	dp_topo_destroy(t);
}

static void test_dp_place__real_machine_plan(void **state)
{
	(void)state;
	struct dp_topo *t = load(NULL);

	assert_true(dp_topo_numa_nodes(t) >= 1);
	assert_true(dp_topo_cores(t) >= 1);
	assert_true(dp_topo_pus(t) >= dp_topo_cores(t));
	assert_int_equal(plan_for(t, 1, -1, false), 0);
	check_plan(t, false);
	dp_topo_destroy(t);
}

static void test_dp_place__bind_synthetic_refused(void **state)
{
	(void)state;
	struct dp_topo *t = load(TWO_NODES);

	assert_int_equal(dp_place_bind_self(t, 0), -ENOSYS);
	dp_topo_destroy(t);
}

/* Binding needs a cpu this process may use: skipped where binding is refused. */
static void test_dp_place__bind_self(void **state)
{
	(void)state;
	struct dp_topo *t = load(NULL);
	uint32_t pus[1];
	int rc;

	assert_true(dp_topo_core_pus(t, 0, pus, 1) >= 1);
	assert_int_equal(dp_place_bind_self(t, 1u << 20), -EINVAL);
	assert_int_equal(dp_place_bind_self_cpus(t, pus, 0), -EINVAL);
	rc = dp_place_bind_self(t, pus[0]);
	if (rc == -EPERM || rc == -ENOSYS || rc == -EXDEV) {
		/* the machine lacks it: the binary exits 77 (SKIP) after the other cases */
		dp_topo_destroy(t);
		fprintf(stderr, "binding not permitted here (%d)\n", rc);
		bind_unavailable = true;
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(dp_place_bind_self_cpus(t, pus, 1), 0);
	dp_topo_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dp_place__topo_synthetic),
		cmocka_unit_test(test_dp_place__topo_bad_synthetic),
		cmocka_unit_test(test_dp_place__port_node_first),
		cmocka_unit_test(test_dp_place__port_node_spills),
		cmocka_unit_test(test_dp_place__any_spreads),
		cmocka_unit_test(test_dp_place__too_many_workers),
		cmocka_unit_test(test_dp_place__smt_siblings),
		cmocka_unit_test(test_dp_place__two_cores_one_worker),
		cmocka_unit_test(test_dp_place__one_core_degrades),
		cmocka_unit_test(test_dp_place__bad_cfg),
		cmocka_unit_test(test_dp_place__real_machine_plan),
		cmocka_unit_test(test_dp_place__bind_synthetic_refused),
		cmocka_unit_test(test_dp_place__bind_self),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	return failed ? failed : bind_unavailable ? 77 : 0;
}
