/**
 * Elections. A member whose election clock runs out first asks for pre-votes
 * for its next term (nobody changes state); only with a majority of those
 * does it stand for real. Members vote at most once per term and only for a
 * candidate whose log is at least as up to date as their own; a majority of
 * the latest membership wins. Pre-votes keep a node that cannot win (stale
 * log, cut off for a while, being removed) from raising everyone's term and
 * stealing the votes a viable candidate needs.
 */
import { abdicate, adoptMarkers, becomeFollower, canCampaign, type Core, latest, resetElection, send } from "./core.ts";
import { becomeLeader } from "./leader.ts";
import { hasMember, memberIds } from "./membership.ts";
import { voteResult } from "./quorum.ts";
import { NONE, type VoteMsg, type VoteRespMsg } from "./types.ts";

/** Starts an election: pre-vote first (a leader first gives up its own term, dropping dead entries from `deadFrom`). */
export function campaign(c: Core<unknown>, reason = "new election", deadFrom = Infinity): void {
  abdicate(c, reason, deadFrom);
  if (!canCampaign(c)) return becomeFollower(c, c.term, NONE, reason);
  c.role = "precandidate";
  c.leader = NONE;
  c.votes = new Map([[c.o.id, true]]);
  resetElection(c);
  askVotes(c, true);
}

/** Stands for the next term for real (after winning a pre-vote). */
function stand(c: Core<unknown>): void {
  c.role = "candidate";
  c.term += 1;
  c.vote = c.o.id;
  c.votes = new Map([[c.o.id, true]]);
  resetElection(c);
  askVotes(c, false);
}

/** Counts own vote, wins at once if alone, else asks every other member. */
function askVotes(c: Core<unknown>, pre: boolean): void {
  const voters = memberIds(latest(c));
  if (voteResult(voters, c.votes) === "won") return pre ? stand(c) : becomeLeader(c);
  const term = pre ? c.term + 1 : c.term;
  for (const id of voters) {
    if (id !== c.o.id) send(c, id, { type: "vote", pre, lastIndex: c.log.lastIndex, lastTerm: c.log.lastTerm, markers: c.markers }, term);
  }
}

/** True if this node still trusts a leader other than `from` (then it refuses pre-votes: no disruption). */
function leaseHeld(c: Core<unknown>, from: number): boolean {
  if (c.role === "leader") return true;
  return c.leader !== NONE && c.leader !== from && c.electionElapsed < c.o.electionTicks;
}

/** Answers a vote or pre-vote request; requests from non-members are ignored so removed nodes cannot disrupt. */
export function handleVote(c: Core<unknown>, m: VoteMsg): void {
  if (!hasMember(latest(c), m.from)) return;
  if (!m.pre && m.term > c.term) becomeFollower(c, m.term, NONE);
  const dead = adoptMarkers(c, m.markers);
  if (dead !== Infinity && c.role === "leader") campaign(c, "the log held aborted entries", dead);
  const upToDate = c.restore === null && c.log.isUpToDate(m.lastIndex, m.lastTerm);
  if (m.pre) {
    const granted = m.term > c.term && upToDate && !leaseHeld(c, m.from);
    return send(c, m.from, { type: "voteResp", pre: true, granted }, granted ? m.term : c.term);
  }
  const granted = m.term === c.term && (c.role === "follower" || c.role === "precandidate") &&
    (c.vote === NONE || c.vote === m.from) && upToDate;
  if (granted) {
    if (c.role !== "follower") becomeFollower(c, c.term, NONE);
    c.vote = m.from;
    c.electionElapsed = 0;
  }
  send(c, m.from, { type: "voteResp", pre: false, granted });
}

/** Counts a vote or pre-vote; wins, stands or gives up once the outcome is certain. */
export function handleVoteResp(c: Core<unknown>, m: VoteRespMsg): void {
  if (m.term > c.term && !(m.pre && m.granted)) return becomeFollower(c, m.term, NONE);
  const round = m.pre ? c.role === "precandidate" && m.term === c.term + 1 : c.role === "candidate" && m.term === c.term;
  if (!round) return;
  c.votes.set(m.from, m.granted);
  const r = voteResult(memberIds(latest(c)), c.votes);
  if (r === "won") return m.pre ? stand(c) : becomeLeader(c);
  if (r === "lost") becomeFollower(c, c.term, NONE);
}
