// Lifelong PIBT expert for 4-connected grids (priority inheritance with backtracking,
// Okumura et al.), used by marlgpt_training.expert through ctypes.
//
// Every step it returns each agent's next cell such that no two agents share a cell and no
// two swap cells: POGEMA's soft collision rule then executes every move as planned.
// Priorities grow with the time since an agent's goal was assigned (fair in lifelong MAPF);
// distance fields are exact BFS distances, cached per goal.
#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

constexpr int32_t kUnreachable = 1 << 20;
constexpr int32_t kNone = -1;

struct Expert {
  int32_t height, width;
  std::vector<uint8_t> free;                    // 1 where the cell is free
  std::vector<std::array<int32_t, 4>> nbrs;     // free 4-neighbours (up, down, left, right), -1 if none
  std::unordered_map<int32_t, std::vector<int32_t>> fields;
  std::size_t max_fields;
  std::mt19937_64 rng;

  // Per-agent lifelong state.
  std::vector<int32_t> last_goal;
  std::vector<double> priority;

  // Priorities of an episode already under way: agent i has held goals[i] for ages[i] steps.
void mg_expert_resume(void* expert, int32_t n, const int32_t* goals, const int32_t* ages) {
  static_cast<Expert*>(expert)->resume(n, goals, ages);
}

// Search settings: candidate first steps per step, rollout length in steps.
  int32_t candidates = 1, horizon = 1;
  double priority_noise = 4.0;

  // Per-step scratch.
  std::vector<int32_t> occupied_now, occupied_next, next, order, queue;
  std::vector<int32_t> candidate, roll_pos, roll_next, best_dist;
  std::vector<double> roll_prio, noisy_prio;

  Expert(int32_t h, int32_t w, const uint8_t* obstacles, uint64_t seed, int32_t max_cached)
      : height(h), width(w), free(h * w), nbrs(h * w), max_fields(max_cached), rng(seed),
        occupied_now(h * w, kNone), occupied_next(h * w, kNone) {
    for (int32_t i = 0; i < h * w; ++i) free[i] = obstacles[i] ? 0 : 1;
    for (int32_t r = 0; r < h; ++r) {
      for (int32_t c = 0; c < w; ++c) {
        const int32_t i = r * w + c;
        auto& n = nbrs[i];
        n[0] = (r > 0 && free[i - w]) ? i - w : kNone;
        n[1] = (r + 1 < h && free[i + w]) ? i + w : kNone;
        n[2] = (c > 0 && free[i - 1]) ? i - 1 : kNone;
        n[3] = (c + 1 < w && free[i + 1]) ? i + 1 : kNone;
      }
    }
  }

  const std::vector<int32_t>& field(int32_t goal) {
    auto it = fields.find(goal);
    if (it != fields.end()) return it->second;
    if (fields.size() >= max_fields) fields.clear();
    std::vector<int32_t> dist(static_cast<std::size_t>(height) * width, kUnreachable);
    queue.assign(1, goal);
    dist[goal] = 0;
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const int32_t v = queue[head];
      for (int32_t u : nbrs[v]) {
        if (u != kNone && dist[u] == kUnreachable) {
          dist[u] = dist[v] + 1;
          queue.push_back(u);
        }
      }
    }
    return fields.emplace(goal, std::move(dist)).first->second;
  }

  // PIBT: give agent i a next cell, pushing lower-priority agents out of the way.
  // `parent` is the agent that pushed i (i may not move into its cell), or kNone.
  bool pibt(int32_t i, int32_t parent, const int32_t* pos, const int32_t* goal) {
    const int32_t here = pos[i];
    const auto& dist = field(goal[i]);
    std::array<int32_t, 5> cand;
    int32_t count = 0;
    cand[count++] = here;
    for (int32_t u : nbrs[here]) {
      if (u != kNone) cand[count++] = u;
    }
    // Closest to the goal first; among equals, free cells before occupied ones, then random.
    std::array<double, 5> key;
    std::uniform_real_distribution<double> tie(0.0, 0.5);
    for (int32_t k = 0; k < count; ++k) {
      key[k] = dist[cand[k]] + (occupied_now[cand[k]] != kNone && cand[k] != here ? 0.5 : 0.0)
               + tie(rng) * 0.5;
    }
    std::array<int32_t, 5> order = {0, 1, 2, 3, 4};
    std::sort(order.begin(), order.begin() + count,
              [&](int32_t a, int32_t b) { return key[a] < key[b]; });
    for (int32_t o = 0; o < count; ++o) {
      const int32_t v = cand[order[o]];
      if (occupied_next[v] != kNone) continue;
      if (parent != kNone && v == pos[parent]) continue;  // no swap with the pusher
      occupied_next[v] = i;
      next[i] = v;
      const int32_t k = occupied_now[v];
      if (k != kNone && k != i && next[k] == kNone) {
        if (!pibt(k, i, pos, goal)) {
          // k could not leave: it now holds v itself (occupied_next[v] == k).
          next[i] = kNone;
          continue;
        }
      }
      return true;
    }
    next[i] = here;
    occupied_next[here] = i;
    return false;
  }

  // One PIBT pass: next cells for all agents from pos, in order of decreasing priority.
  void pass(int32_t n, const int32_t* pos, const int32_t* goal, const double* prio,
            int32_t* out) {
    for (int32_t i = 0; i < n; ++i) occupied_now[pos[i]] = i;
    next.assign(n, kNone);
    order.resize(n);
    for (int32_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return prio[a] > prio[b]; });
    for (int32_t i : order) {
      if (next[i] == kNone) pibt(i, kNone, pos, goal);
    }
    for (int32_t i = 0; i < n; ++i) {
      out[i] = next[i];
      occupied_now[pos[i]] = kNone;
      occupied_next[next[i]] = kNone;
    }
  }

  // Progress of a candidate first step: PIBT rolled out `horizon` steps from `first`, scored
  // by how much closer every agent gets to its goal at best within the window, plus a bonus
  // for each arrival (the earlier, the larger). An agent that has arrived drops to the lowest
  // priority for the rest of the rollout: in the real episode it would get a new goal and
  // leave, so it should not block the others there.
  double rollout(int32_t n, const int32_t* pos, const int32_t* goal, const int32_t* first) {
    roll_pos.assign(first, first + n);
    roll_prio.assign(priority.begin(), priority.end());
    best_dist.resize(n);
    double bonus = 0.0;
    for (int32_t i = 0; i < n; ++i) {
      best_dist[i] = field(goal[i])[first[i]];
      if (best_dist[i] == 0) {
        bonus += horizon;
        roll_prio[i] = -1.0;
      }
    }
    roll_next.resize(n);
    for (int32_t t = 1; t < horizon; ++t) {
      for (int32_t i = 0; i < n; ++i) roll_prio[i] += 1.0;
      pass(n, roll_pos.data(), goal, roll_prio.data(), roll_next.data());
      roll_pos.swap(roll_next);
      for (int32_t i = 0; i < n; ++i) {
        const int32_t d = field(goal[i])[roll_pos[i]];
        if (d == 0 && best_dist[i] > 0) {
          bonus += horizon - t;
          roll_prio[i] = -1.0 - t;
        }
        best_dist[i] = std::min(best_dist[i], d);
      }
    }
    double score = bonus;
    for (int32_t i = 0; i < n; ++i) score += field(goal[i])[pos[i]] - best_dist[i];
    return score;
  }

  // 0 if every agent stands on its own free cell with a free goal, else an error code.
  int32_t validate(int32_t n, const int32_t* pos, const int32_t* goal) {
    int32_t code = 0;
    int32_t i = 0;
    for (; i < n && code == 0; ++i) {
      if (pos[i] < 0 || pos[i] >= height * width || !free[pos[i]]) code = 1;
      else if (goal[i] < 0 || goal[i] >= height * width || !free[goal[i]]) code = 2;
      else if (occupied_now[pos[i]] != kNone) code = 3;
      else occupied_now[pos[i]] = i;
    }
    const int32_t marked = code == 0 ? n : (code == 3 ? i - 1 : i - 1);
    for (int32_t j = 0; j < marked; ++j) occupied_now[pos[j]] = kNone;
    return code;
  }

  // Continue an episode in which agent i has held goal[i] for age[i] steps: the next step
  // ranks agents as if the expert had run from the start.
  void resume(int32_t n, const int32_t* goal, const int32_t* age) {
    last_goal.assign(goal, goal + n);
    priority.assign(n, 0.0);
    std::uniform_real_distribution<double> frac(0.0, 1.0);
    for (int32_t i = 0; i < n; ++i) priority[i] = age[i] - 1.0 + frac(rng);
  }

  int32_t step(int32_t n, const int32_t* pos, const int32_t* goal, int32_t* out) {
    if (static_cast<int32_t>(last_goal.size()) != n) {
      last_goal.assign(n, kNone);
      priority.assign(n, 0.0);
    }
    const int32_t code = validate(n, pos, goal);
    if (code != 0) return code;
    std::uniform_real_distribution<double> frac(0.0, 1.0);
    for (int32_t i = 0; i < n; ++i) {
      if (goal[i] != last_goal[i]) {
        last_goal[i] = goal[i];
        priority[i] = frac(rng);  // a fresh goal restarts the agent's priority
      } else {
        priority[i] += 1.0;
      }
    }
    pass(n, pos, goal, priority.data(), out);
    if (candidates <= 1 || horizon <= 1) return 0;
    // Search: several randomised first steps (priorities shuffled by noise), each judged by
    // a PIBT rollout; the plain PIBT step is candidate 0, so the search never scores worse.
    double best = rollout(n, pos, goal, out);
    candidate.resize(n);
    noisy_prio.resize(n);
    std::uniform_real_distribution<double> noise(0.0, priority_noise);
    for (int32_t c = 1; c < candidates; ++c) {
      for (int32_t i = 0; i < n; ++i) noisy_prio[i] = priority[i] + noise(rng);
      pass(n, pos, goal, noisy_prio.data(), candidate.data());
      const double score = rollout(n, pos, goal, candidate.data());
      if (score > best) {
        best = score;
        std::copy(candidate.begin(), candidate.end(), out);
      }
    }
    return 0;
  }
};

}  // namespace

extern "C" {

void* mg_expert_new(int32_t height, int32_t width, const uint8_t* obstacles, uint64_t seed,
                    int32_t max_fields) {
  return new Expert(height, width, obstacles, seed, max_fields);
}

void mg_expert_free(void* expert) { delete static_cast<Expert*>(expert); }

// Next cell (flat index) of each of n agents; 0 on success, else an error code:
// 1 a position off the map or on an obstacle, 2 such a goal, 3 two agents on one cell.
int32_t mg_expert_step(void* expert, int32_t n, const int32_t* positions, const int32_t* goals,
                       int32_t* next) {
  return static_cast<Expert*>(expert)->step(n, positions, goals, next);
}

// Priorities of an episode already under way: agent i has held goals[i] for ages[i] steps.
void mg_expert_resume(void* expert, int32_t n, const int32_t* goals, const int32_t* ages) {
  static_cast<Expert*>(expert)->resume(n, goals, ages);
}

// Search settings: `candidates` randomised PIBT first steps per step, each scored by a
// rollout of `horizon` steps (1 and 1: plain PIBT).
void mg_expert_set_search(void* expert, int32_t candidates, int32_t horizon, double noise) {
  auto* e = static_cast<Expert*>(expert);
  e->candidates = std::max(1, candidates);
  e->horizon = std::max(1, horizon);
  e->priority_noise = std::max(1e-9, noise);
}

// The BFS distance field of goal (flat index) into out (height * width int32).
void mg_expert_distances(void* expert, int32_t goal, int32_t* out) {
  auto* e = static_cast<Expert*>(expert);
  const auto& dist = e->field(goal);
  std::copy(dist.begin(), dist.end(), out);
}

}  // extern "C"
