/*
 * dp_place.c - topology loading (hwloc) and the placement planner (API and
 * policy in dp_place.h).
 *
 * Why it looks like this: hwloc's tree is walked once at load into a flat
 * table of cores (node, PUs' OS indices), so the planner is plain code over
 * arrays that tests drive with synthetic topologies. The planner turns the
 * policy into one sort key per candidate slot (core, PU rank) and takes the
 * first N slots: every rule in the header is a field of that key.
 *
 * Threads: load and destroy from one thread; everything else reads only.
 */
#include "dp_place.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

struct dp_topo_core {
	uint32_t node;
	uint32_t npus;
	uint32_t pu_first;       /* into dp_topo.pus */
};

struct dp_topo {
	hwloc_topology_t h;
	uint32_t nnodes;
	uint32_t ncores;
	uint32_t npus;
	struct dp_topo_core *cores;
	uint32_t *pus;           /* OS indices, core by core */
};

/* ------------------------------------------------------------------------ */
/* Topology                                                                  */
/* ------------------------------------------------------------------------ */

static uint32_t node_of(hwloc_topology_t h, hwloc_const_cpuset_t set)
{
	int n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);

	for (int i = 0; i < n; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, (unsigned)i);

		if (o && o->cpuset && hwloc_bitmap_isincluded(set, o->cpuset))
			return (uint32_t)i;
	}
	return 0;
}

/* Fill the core table; a machine hwloc sees no cores in counts PUs as cores. */
static int build_cores(struct dp_topo *t)
{
	hwloc_obj_type_t unit = HWLOC_OBJ_CORE;
	int ncores = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_CORE);
	int npus = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PU);
	int nnodes = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);

	if (ncores <= 0) {
		unit = HWLOC_OBJ_PU;
		ncores = npus;
	}
	if (ncores <= 0 || npus <= 0)
		return -EINVAL;
	t->nnodes = nnodes > 0 ? (uint32_t)nnodes : 1;
	t->cores = calloc((size_t)ncores, sizeof(*t->cores));
	t->pus = calloc((size_t)npus, sizeof(*t->pus));
	if (!t->cores || !t->pus)
		return -ENOMEM;
	for (int i = 0; i < ncores; i++) {
		hwloc_obj_t core = hwloc_get_obj_by_type(t->h, unit, (unsigned)i);
		struct dp_topo_core *c = &t->cores[t->ncores];
		hwloc_obj_t pu = NULL;

		if (!core || !core->cpuset)
			continue;
		c->node = node_of(t->h, core->cpuset);
		c->pu_first = t->npus;
		while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(t->h, core->cpuset,
								      HWLOC_OBJ_PU, pu))) {
			if (t->npus == (uint32_t)npus)
				break;
			t->pus[t->npus++] = pu->os_index;
			c->npus++;
		}
		if (c->npus > 0)
			t->ncores++;
	}
	return t->ncores > 0 ? 0 : -EINVAL;
}

int dp_topo_load(const char *synthetic, struct dp_topo **out)
{
	struct dp_topo *t;
	int rc;

	assert(out);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (hwloc_topology_init(&t->h) < 0) {
		rc = errno ? -errno : -ENOMEM;
		goto err_free;
	}
	if (synthetic && hwloc_topology_set_synthetic(t->h, synthetic) < 0) {
		rc = -EINVAL;
		goto err_destroy;
	}
	if (hwloc_topology_load(t->h) < 0) {
		rc = errno ? -errno : -EINVAL;
		goto err_destroy;
	}
	rc = build_cores(t);
	if (rc < 0)
		goto err_destroy;
	*out = t;
	return 0;

err_destroy:
	free(t->cores);
	free(t->pus);
	hwloc_topology_destroy(t->h);
err_free:
	free(t);
	return rc;
}

void dp_topo_destroy(struct dp_topo *t)
{
	if (!t)
		return;
	free(t->cores);
	free(t->pus);
	hwloc_topology_destroy(t->h);
	free(t);
}

uint32_t dp_topo_numa_nodes(const struct dp_topo *t)
{
	return t->nnodes;
}

uint32_t dp_topo_cores(const struct dp_topo *t)
{
	return t->ncores;
}

uint32_t dp_topo_node_cores(const struct dp_topo *t, uint32_t node)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->ncores; i++)
		n += t->cores[i].node == node;
	return n;
}

uint32_t dp_topo_pus(const struct dp_topo *t)
{
	return t->npus;
}

uint32_t dp_topo_core_node(const struct dp_topo *t, uint32_t core)
{
	return core < t->ncores ? t->cores[core].node : UINT32_MAX;
}

uint32_t dp_topo_core_pus(const struct dp_topo *t, uint32_t core, uint32_t *os_cpus,
			  uint32_t cap)
{
	if (core >= t->ncores)
		return 0;
	const struct dp_topo_core *c = &t->cores[core];

	for (uint32_t i = 0; i < c->npus && i < cap; i++)
		os_cpus[i] = t->pus[c->pu_first + i];
	return c->npus;
}

/* ------------------------------------------------------------------------ */
/* Planner                                                                   */
/* ------------------------------------------------------------------------ */

/* A place a worker could go, with its sort key (most significant first). */
struct slot {
	uint32_t remote;         /* 1: off the port's node */
	uint32_t rank;           /* which PU of the core: 0 first, siblings after */
	uint32_t pos;            /* the core's position among its node's eligible cores */
	uint32_t node;
	uint32_t core;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	if (x->remote != y->remote)
		return x->remote < y->remote ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->core < y->core ? -1 : x->core > y->core;
}

/* Candidate slots on every core from first_core on (pos[nnodes]: scratch); returns how many. */
static uint32_t make_slots(const struct dp_topo *t, const struct dp_place_cfg *cfg,
			   uint32_t first_core, struct slot *slots, uint32_t *pos)
{
	uint32_t n = 0;

	memset(pos, 0, t->nnodes * sizeof(*pos));
	for (uint32_t c = first_core; c < t->ncores; c++) {
		const struct dp_topo_core *core = &t->cores[c];
		uint32_t ranks = cfg->use_smt_siblings ? core->npus : 1;
		uint32_t node = core->node < t->nnodes ? core->node : 0;

		for (uint32_t r = 0; r < ranks; r++)
			slots[n++] = (struct slot){
				.remote = cfg->port_numa_node >= 0 &&
					  node != (uint32_t)cfg->port_numa_node,
				.rank = r, .pos = pos[node], .node = node, .core = c,
			};
		pos[node]++;
	}
	return n;
}

static int check_cfg(const struct dp_topo *t, const struct dp_place_cfg *cfg, char *err,
		     size_t errlen)
{
	if (cfg->workers == 0 || cfg->workers > DP_PLACE_WORKERS_MAX) {
		snprintf(err, errlen, "workers %u not in 1..%u", cfg->workers,
			 DP_PLACE_WORKERS_MAX);
		return -EINVAL;
	}
	if (cfg->port_numa_node < -1 || cfg->port_numa_node >= (int)t->nnodes) {
		snprintf(err, errlen, "port numa node %d not in topology (%u nodes)",
			 cfg->port_numa_node, t->nnodes);
		return -EINVAL;
	}
	if (t->npus > DP_PLACE_CPUS_MAX) {
		snprintf(err, errlen, "machine has %u cpus, a plan holds at most %u", t->npus,
			 DP_PLACE_CPUS_MAX);
		return -E2BIG;
	}
	return 0;
}

/* Management set: every PU of every core without a worker, ascending. */
static void plan_mgmt(const struct dp_topo *t, const bool *used, struct dp_place_plan *p)
{
	p->nmgmt_cpus = 0;
	for (uint32_t c = 0; c < t->ncores; c++) {
		if (used[c] && !p->shared_core)
			continue;
		for (uint32_t i = 0; i < t->cores[c].npus; i++)
			p->mgmt_cpus[p->nmgmt_cpus++] = t->pus[t->cores[c].pu_first + i];
	}
	for (uint32_t i = 1; i < p->nmgmt_cpus; i++)   /* insertion sort: OS order */
		for (uint32_t j = i; j > 0 && p->mgmt_cpus[j - 1] > p->mgmt_cpus[j]; j--) {
			uint32_t tmp = p->mgmt_cpus[j];

			p->mgmt_cpus[j] = p->mgmt_cpus[j - 1];
			p->mgmt_cpus[j - 1] = tmp;
		}
}

int dp_place_plan(const struct dp_topo *t, const struct dp_place_cfg *cfg,
		  struct dp_place_plan *out, char *err, size_t errlen)
{
	struct slot *slots;
	uint32_t *pos;
	bool *used;
	uint32_t nslots;
	int rc;

	assert(t && cfg && out);
	assert(t->ncores > 0 && t->npus >= t->ncores);
	if (errlen)
		err[0] = '\0';
	else
		err = NULL;
	rc = check_cfg(t, cfg, err, errlen);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	slots = calloc(t->npus, sizeof(*slots));
	used = calloc(t->ncores, sizeof(*used));
	pos = calloc(t->nnodes, sizeof(*pos));
	if (!slots || !used || !pos) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out_free;
	}
	nslots = make_slots(t, cfg, 1, slots, pos);   /* core 0 stays for OS and mgmt */
	if (nslots < cfg->workers) {
		if (t->ncores == 1 && cfg->workers == 1) {
			out->shared_core = true;  /* degraded: one core for everything */
			nslots = make_slots(t, cfg, 0, slots, pos);
		} else {
			uint32_t have = cfg->use_smt_siblings ? t->npus : t->ncores;
			uint32_t need = cfg->workers +
					(cfg->use_smt_siblings ? t->cores[0].npus : 1);

			snprintf(err, errlen, "need %u %s for %u workers plus management, "
				 "machine has %u", need, cfg->use_smt_siblings ? "cpus" : "cores",
				 cfg->workers, have);
			rc = -ENOSPC;
			goto out_free;
		}
	}
	assert(nslots >= cfg->workers);
	qsort(slots, nslots, sizeof(*slots), slot_cmp);
	for (uint32_t i = 0; i < cfg->workers; i++) {
		const struct dp_topo_core *c = &t->cores[slots[i].core];

		out->workers[i] = (struct dp_place_worker){
			.os_cpu = t->pus[c->pu_first + slots[i].rank],
			.numa_node = slots[i].node,
			.core = slots[i].core,
		};
		out->remote_workers += slots[i].remote;
		used[slots[i].core] = true;
	}
	out->nworkers = cfg->workers;
	out->mgmt_threads = cfg->mgmt_threads;
	plan_mgmt(t, used, out);
	rc = 0;
out_free:
	free(slots);
	free(used);
	free(pos);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Binding                                                                   */
/* ------------------------------------------------------------------------ */

int dp_place_bind_self_cpus(const struct dp_topo *t, const uint32_t *os_cpus, uint32_t n)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t->h);
	hwloc_bitmap_t set;
	int rc = 0;

	if (n == 0)
		return -EINVAL;
	if (!hwloc_topology_is_thissystem(t->h))
		return -ENOSYS;
	set = hwloc_bitmap_alloc();
	if (!set)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (!hwloc_bitmap_isset(all, os_cpus[i])) {
			rc = -EINVAL;
			goto out_free;
		}
		hwloc_bitmap_set(set, os_cpus[i]);
	}
	errno = 0;
	if (hwloc_set_cpubind(t->h, set, HWLOC_CPUBIND_THREAD) < 0)
		rc = errno ? -errno : -EINVAL;
out_free:
	hwloc_bitmap_free(set);
	return rc;
}

int dp_place_bind_self(const struct dp_topo *t, unsigned os_cpu)
{
	uint32_t cpu = os_cpu;

	return dp_place_bind_self_cpus(t, &cpu, 1);
}
