// Lifelong PIBT expert for 4-connected grids (priority inheritance with backtracking,
// Okumura et al.), used by marlgpt_planner.expert through ctypes (the training data's
// expert and the fleet coordinator).
//
// Every step it returns each agent's next cell such that no two agents share a cell and no
// two swap cells: POGEMA's soft collision rule then executes every move as planned.
// Priorities grow with the time since an agent's goal was assigned (fair in lifelong MAPF);
// distance fields are exact BFS distances, cached per goal.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
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

  // Windowed LNS (0 iterations: off): plan every agent's next `window` steps jointly, improve
  // the plan by replanning `group` agents at a time, execute its first step.
  int32_t window = 0, iterations = 0, group = 8;

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

  // --- Windowed LNS --------------------------------------------------------------------------
  // A window plan: plan[i * (W + 1) + t] is agent i's cell at step t (t = 0: now). An agent that
  // reaches its goal at step t "leaves" after it (in the episode it gets a new goal): it holds
  // cells only up to t. Its cost is t then, else W + its distance to the goal at step W; the
  // plan's cost is the sum. reserved[t * cells + v] is the agent holding cell v at step t.
  std::vector<int32_t> plan, reserved, ends, saved_plan, group_agents, saved_ends, saved_order;
  std::vector<double> costs, saved_costs, nearness;
  std::vector<std::pair<int64_t, int32_t>> open_heap;
  std::vector<uint32_t> seen;  // A* closed set per (step, cell), by generation
  uint32_t generation = 0;
  std::vector<int32_t> came_from;

  int32_t cells() const { return height * width; }

  double path_cost(int32_t i, const int32_t* goal) {
    const int32_t W = window;
    const int32_t* p = &plan[static_cast<std::size_t>(i) * (W + 1)];
    for (int32_t t = 1; t <= W; ++t) {
      if (p[t] == goal[i]) {
        ends[i] = t;
        return t;
      }
    }
    ends[i] = W;
    return W + field(goal[i])[p[W]];
  }

  void reserve(int32_t i, int32_t who) {
    const int32_t* p = &plan[static_cast<std::size_t>(i) * (window + 1)];
    for (int32_t t = 0; t <= ends[i]; ++t) reserved[static_cast<std::size_t>(t) * cells() + p[t]] = who;
  }

  bool free_at(int32_t t, int32_t v) const {
    return reserved[static_cast<std::size_t>(t) * cells() + v] == kNone;
  }

  // Space-time A* for agent i from its cell at step 0 against the reservations: the path of
  // least cost (arrival step, or W + distance left). False if every path is blocked.
  bool replan(int32_t i, const int32_t* goal) {
    const int32_t W = window, C = cells();
    const auto& dist = field(goal[i]);
    int32_t* p = &plan[static_cast<std::size_t>(i) * (W + 1)];
    if (++generation == 0) {
      std::fill(seen.begin(), seen.end(), 0u);
      generation = 1;
    }
    // The open list: a min-heap of (key, state = t * C + v) kept in a member, so the
    // thousands of searches a step makes reuse one buffer.
    auto& open = open_heap;
    open.clear();
    const auto later = std::greater<std::pair<int64_t, int32_t>>();
    auto push = [&](int64_t k, int32_t state) {
      open.emplace_back(k, state);
      std::push_heap(open.begin(), open.end(), later);
    };
    auto key = [&](int32_t t, int32_t v) {  // f, then deeper first, then a random tie
      return (static_cast<int64_t>(t + dist[v]) << 24) + (static_cast<int64_t>(W - t) << 16)
             + static_cast<int64_t>(rng() & 0xFFFF);
    };
    const int32_t start = p[0];
    seen[start] = generation;
    came_from[start] = kNone;
    push(key(0, start), start);
    int32_t found = kNone;
    while (!open.empty()) {
      std::pop_heap(open.begin(), open.end(), later);
      const int32_t state = open.back().second;
      open.pop_back();
      const int32_t t = state / C, v = state % C;
      if ((t > 0 && v == goal[i]) || t == W) {
        found = state;
        break;
      }
      std::array<int32_t, 5> moves = {v, nbrs[v][0], nbrs[v][1], nbrs[v][2], nbrs[v][3]};
      for (int32_t u : moves) {
        if (u == kNone || !free_at(t + 1, u)) continue;
        // No swap: the agent at u now may not be at v next.
        const int32_t other = reserved[static_cast<std::size_t>(t) * C + u];
        if (u != v && other != kNone
            && reserved[static_cast<std::size_t>(t + 1) * C + v] == other) continue;
        const int32_t s = (t + 1) * C + u;
        if (seen[s] == generation) continue;
        seen[s] = generation;
        came_from[s] = state;
        push(key(t + 1, u), s);
      }
    }
    if (found == kNone) return false;
    int32_t t = found / C;
    const int32_t last = found % C;
    for (int32_t k = t + 1; k <= W; ++k) p[k] = last;  // after arriving: where it would stand
    for (int32_t s = found; s != kNone; s = came_from[s], --t) p[t] = s % C;
    return true;
  }

  // The agents to replan together: with probability 2/3 the neighbours (by grid distance now)
  // of an agent drawn by how much it loses against its free path, else a random set.
  void choose_group(int32_t n, const int32_t* pos, const int32_t* goal) {
    const int32_t k = std::min(group, n);
    group_agents.resize(n);
    for (int32_t i = 0; i < n; ++i) group_agents[i] = i;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    double total = 0.0;
    // An agent's loss: its cost over its free path's (its distance, arriving or not).
    for (int32_t i = 0; i < n; ++i) total += costs[i] - field(goal[i])[pos[i]];
    if (total > 0.5 && unit(rng) < 2.0 / 3.0) {
      double pick = unit(rng) * total;
      int32_t a = 0;
      for (; a < n - 1; ++a) {
        pick -= costs[a] - field(goal[a])[pos[a]];
        if (pick <= 0) break;
      }
      const int32_t ar = pos[a] / width, ac = pos[a] % width;
      auto far = [&](int32_t j) {
        return std::abs(pos[j] / width - ar) + std::abs(pos[j] % width - ac) + unit(rng) * 0.5;
      };
      auto& d = nearness;
      d.resize(n);
      for (int32_t j = 0; j < n; ++j) d[j] = far(j);
      std::partial_sort(group_agents.begin(), group_agents.begin() + k, group_agents.end(),
                        [&](int32_t x, int32_t y) { return d[x] < d[y]; });
    } else {
      std::shuffle(group_agents.begin(), group_agents.end(), rng);
    }
    group_agents.resize(k);
  }

  // Improve the first step `out` (chosen by the search) with windowed LNS; out is replaced by
  // the first step of the best window plan found.
  void improve(int32_t n, const int32_t* pos, const int32_t* goal, int32_t* out) {
    const int32_t W = window, C = cells();
    plan.assign(static_cast<std::size_t>(n) * (W + 1), kNone);
    reserved.assign(static_cast<std::size_t>(W + 1) * C, kNone);
    seen.resize(static_cast<std::size_t>(W + 1) * C, 0u);
    came_from.resize(static_cast<std::size_t>(W + 1) * C, kNone);
    ends.assign(n, W);
    costs.assign(n, 0.0);
    // The initial plan: the search's first step, then PIBT (as its rollout, arrived agents
    // yielding).
    roll_pos.assign(out, out + n);
    roll_prio.assign(priority.begin(), priority.end());
    roll_next.resize(n);
    for (int32_t i = 0; i < n; ++i) {
      plan[static_cast<std::size_t>(i) * (W + 1)] = pos[i];
      plan[static_cast<std::size_t>(i) * (W + 1) + 1] = out[i];
      if (out[i] == goal[i]) roll_prio[i] = -1.0;
    }
    for (int32_t t = 2; t <= W; ++t) {
      for (int32_t i = 0; i < n; ++i) roll_prio[i] += 1.0;
      pass(n, roll_pos.data(), goal, roll_prio.data(), roll_next.data());
      roll_pos.swap(roll_next);
      for (int32_t i = 0; i < n; ++i) {
        plan[static_cast<std::size_t>(i) * (W + 1) + t] = roll_pos[i];
        if (roll_pos[i] == goal[i] && roll_prio[i] >= 0) roll_prio[i] = -1.0 - t;
      }
    }
    for (int32_t i = 0; i < n; ++i) {
      costs[i] = path_cost(i, goal);
      reserve(i, i);
    }
    for (int32_t it = 0; it < iterations; ++it) {
      choose_group(n, pos, goal);
      double before = 0.0;
      saved_plan.clear();
      saved_ends.clear();
      saved_costs.clear();
      for (int32_t i : group_agents) {
        before += costs[i];
        const auto* p = &plan[static_cast<std::size_t>(i) * (W + 1)];
        saved_plan.insert(saved_plan.end(), p, p + W + 1);
        saved_ends.push_back(ends[i]);
        saved_costs.push_back(costs[i]);
        reserve(i, kNone);
      }
      saved_order.assign(group_agents.begin(), group_agents.end());
      std::shuffle(group_agents.begin(), group_agents.end(), rng);
      double after = 0.0;
      bool ok = true;
      std::size_t done = 0;
      for (; done < group_agents.size(); ++done) {
        const int32_t i = group_agents[done];
        if (!replan(i, goal)) {
          ok = false;
          break;
        }
        costs[i] = path_cost(i, goal);
        after += costs[i];
        reserve(i, i);
      }
      if (ok && after < before) continue;  // keep the better plan
      for (std::size_t g = 0; g < done; ++g) reserve(group_agents[g], kNone);
      for (std::size_t g = 0; g < saved_order.size(); ++g) {  // put the old paths back
        const int32_t i = saved_order[g];
        std::copy(saved_plan.begin() + g * (W + 1), saved_plan.begin() + (g + 1) * (W + 1),
                  plan.begin() + static_cast<std::size_t>(i) * (W + 1));
        ends[i] = saved_ends[g];
        costs[i] = saved_costs[g];
        reserve(i, i);
      }
    }
    // The first step of the plan, checked: no shared cells, no swaps (else keep `out`).
    candidate.resize(n);
    for (int32_t i = 0; i < n; ++i) candidate[i] = plan[static_cast<std::size_t>(i) * (W + 1) + 1];
    if (valid_step(n, pos, candidate.data())) std::copy(candidate.begin(), candidate.end(), out);
  }

  // Whether moving every agent from pos to nxt is legal: neighbouring or same cells, no cell
  // shared, no two agents swapping.
  bool valid_step(int32_t n, const int32_t* pos, const int32_t* nxt) {
    bool ok = true;
    int32_t marked = 0;
    for (; marked < n && ok; ++marked) {
      const int32_t v = nxt[marked], u = pos[marked];
      const auto& nb = nbrs[u];
      ok = v >= 0 && v < cells() && free[v]
           && (v == u || v == nb[0] || v == nb[1] || v == nb[2] || v == nb[3])
           && occupied_next[v] == kNone;
      if (ok) occupied_next[v] = marked;
    }
    for (int32_t i = 0; i < n && ok; ++i) occupied_now[pos[i]] = i;
    for (int32_t i = 0; i < n && ok; ++i) {
      const int32_t j = occupied_now[nxt[i]];  // who stands where i goes
      if (j != kNone && j != i && nxt[j] == pos[i]) ok = false;
    }
    for (int32_t i = 0; i < n; ++i) occupied_now[pos[i]] = kNone;
    for (int32_t i = 0; i < marked; ++i) occupied_next[nxt[i]] = kNone;
    return ok;
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
    if (candidates > 1 && horizon > 1) search(n, pos, goal, out);
    if (window > 1 && iterations > 0) improve(n, pos, goal, out);
    return 0;
  }

  void search(int32_t n, const int32_t* pos, const int32_t* goal, int32_t* out) {
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

// Windowed LNS after the search: plan `window` steps jointly, `iterations` times replan `group`
// agents by space-time A* and keep what lowers the plan's cost (0 iterations: off).
void mg_expert_set_lns(void* expert, int32_t window, int32_t iterations, int32_t group) {
  auto* e = static_cast<Expert*>(expert);
  e->window = std::max(0, window);
  e->iterations = std::max(0, iterations);
  e->group = std::max(1, group);
}

// The BFS distance field of goal (flat index) into out (height * width int32).
void mg_expert_distances(void* expert, int32_t goal, int32_t* out) {
  auto* e = static_cast<Expert*>(expert);
  const auto& dist = e->field(goal);
  std::copy(dist.begin(), dist.end(), out);
}

}  // extern "C"
