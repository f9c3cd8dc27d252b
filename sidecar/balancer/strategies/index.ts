import type { StrategyName } from '../../../common/config-schema.ts';
import { costBased } from './cost-based.ts';
import { latencyBased } from './latency-based.ts';
import { leastBusy } from './least-busy.ts';
import { leastQueue } from './least-queue.ts';
import { priorityFailover } from './priority-failover.ts';
import { roundRobin } from './round-robin.ts';
import { simpleShuffle } from './simple-shuffle.ts';
import type { Strategy } from './types.ts';
import { usageBased } from './usage-based.ts';
import { weightedRandom } from './weighted-random.ts';

export const STRATEGIES: Readonly<Record<StrategyName, Strategy>> = {
  'weighted-random': weightedRandom,
  'round-robin': roundRobin,
  'least-busy': leastBusy,
  'latency-based-routing': latencyBased,
  'priority-failover': priorityFailover,
  'simple-shuffle': simpleShuffle,
  'usage-based-routing': usageBased,
  'usage-based-routing-v2': usageBased,
  'cost-based-routing': costBased,
  'least-queue': leastQueue,
};
export type { CandidateView, PickContext, Strategy } from './types.ts';
