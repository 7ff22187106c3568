/**
 * Elections: a member whose election clock runs out stands for the next term;
 * members vote at most once per term and only for a candidate whose log is at
 * least as up to date as their own; a majority of the latest membership wins.
 */
import { abdicate, adoptMarkers, becomeFollower, canCampaign, type Core, latest, resetElection, send } from "./core.ts";
import { becomeLeader } from "./leader.ts";
import { hasMember, memberIds } from "./membership.ts";
import { voteResult } from "./quorum.ts";
import { NONE, type VoteMsg, type VoteRespMsg } from "./types.ts";

/** Stands for election in the next term (a leader first gives up its own term). */
export function campaign(c: Core<unknown>, reason = "new election", deadFrom = Infinity): void {
  abdicate(c, reason, deadFrom);
  if (!canCampaign(c)) return becomeFollower(c, c.term, NONE, reason);
  c.role = "candidate";
  c.term += 1;
  c.vote = c.o.id;
  c.leader = NONE;
  c.votes = new Map([[c.o.id, true]]);
  resetElection(c);
  const voters = memberIds(latest(c));
  if (voteResult(voters, c.votes) === "won") return becomeLeader(c);
  for (const id of voters) {
    if (id !== c.o.id) send(c, id, { type: "vote", lastIndex: c.log.lastIndex, lastTerm: c.log.lastTerm, markers: c.markers });
  }
}

/** Answers a vote request; requests from non-members are ignored so removed nodes cannot disrupt. */
export function handleVote(c: Core<unknown>, m: VoteMsg): void {
  if (!hasMember(latest(c), m.from)) return;
  if (m.term > c.term) becomeFollower(c, m.term, NONE);
  const dead = adoptMarkers(c, m.markers);
  if (dead !== Infinity && c.role === "leader") campaign(c, "log held aborted entries", dead);
  const granted = m.term === c.term && c.role === "follower" && (c.vote === NONE || c.vote === m.from) &&
    c.restore === null && c.log.isUpToDate(m.lastIndex, m.lastTerm);
  if (granted) {
    c.vote = m.from;
    c.electionElapsed = 0;
  }
  send(c, m.from, { type: "voteResp", granted });
}

/** Counts a vote; wins or gives up once the outcome is certain. */
export function handleVoteResp(c: Core<unknown>, m: VoteRespMsg): void {
  if (m.term > c.term) return becomeFollower(c, m.term, NONE);
  if (c.role !== "candidate" || m.term !== c.term) return;
  c.votes.set(m.from, m.granted);
  const r = voteResult(memberIds(latest(c)), c.votes);
  if (r === "won") becomeLeader(c);
  else if (r === "lost") becomeFollower(c, c.term, NONE);
}
