/*
 * an_mprofile.h - the matrix profile of one series (for each subsequence of
 * length m, the z-normalised Euclidean distance to its nearest non-trivial
 * match, and where that match is), computed with STOMP (Zhu et al. 2016),
 * and motif discovery on top of it: the top-k closest pairs of subsequences.
 *
 * Why: motifs(field, len) in queries ("what repeats?"); the profile itself
 * is also a discord (anomaly) score.
 *
 * Definitions. l = n - m + 1 subsequences T_i = x[i .. i+m). Distance
 * d(i, j) = || z(T_i) - z(T_j) || with z the z-normalisation (population
 * std), computed as sqrt(2 m (1 - rho_ij)), rho the Pearson correlation.
 * Trivial matches: |i - j| <= ceil(m / 4) (the exclusion zone) are never
 * compared. Constant subsequences (all m values equal: std 0) are handled
 * deterministically: two constant ones are at distance 0, a constant and a
 * non-constant one at sqrt(m) (the z-normalised constant is taken to be the
 * zero vector, as STUMPY does).
 *
 * Method: means and stds per subsequence by two-pass sums (exact for
 * constant windows), the first row of dot products by a direct sliding dot
 * product, then STOMP's O(1) update QT[i][j] = QT[i-1][j-1] - x[i-1] x[j-1]
 * + x[i+m-1] x[j+m-1] over the upper triangle (the profile is symmetric):
 * O(l^2 / 2) time, O(n) memory. The series is centred on its mean first so
 * the dot products do not cancel on large offsets.
 *
 * Usage profile: one call per query; n up to 50,000 (motifs() refuses more).
 * n = 10,000, m = 100 took 115 ms, measured once by hand on 2026-11-22 (no
 * bench prints it). Scratch is malloc'd per call.
 *
 * NaN: inputs with NaN or +-inf are rejected with -EINVAL (the query layer
 * fills or drops gaps first).
 *
 * Threads: pure code, no I/O; any thread, concurrently.
 */
#ifndef AN_MPROFILE_H
#define AN_MPROFILE_H

#include <stddef.h>
#include <stdint.h>

/* Index stored for a subsequence with no non-trivial match (l <= excl + 1). */
#define AN_MP_NONE SIZE_MAX

/* The exclusion zone for subsequence length m: ceil(m / 4). */
size_t an_mp_exclusion(size_t m);

/*
 * The matrix profile of x[0..n) for subsequence length m (4 <= m <= n):
 * profile[i] = min over |j - i| > excl of d(i, j), index[i] = that j (the
 * smallest j on ties), for i < l = n - m + 1; INFINITY and AN_MP_NONE when
 * no j qualifies. profile and index have l entries (caller-owned; index may
 * be NULL). Returns 0, -EINVAL (bad m or n, NaN or inf, NULL) or -ENOMEM.
 */
int an_mprofile(const double *x, size_t n, size_t m, double *profile, size_t *index);

struct an_motif {
	size_t a;        /* start of the earlier subsequence */
	size_t b;        /* start of the later one (b > a + excl) */
	double distance; /* z-normalised Euclidean distance */
};

/*
 * The top-k motif pairs, closest first: repeatedly the subsequence with the
 * smallest profile value and its nearest neighbour, skipping any pair with a
 * member within m points (|i - a| < m) of a member of a pair already
 * reported. out has k entries; *nout gets how many were found (<= k).
 * Returns 0, -EINVAL (as an_mprofile, or k == 0) or -ENOMEM.
 */
int an_motifs(const double *x, size_t n, size_t m, size_t k, struct an_motif *out,
	      size_t *nout);

#endif /* AN_MPROFILE_H */
