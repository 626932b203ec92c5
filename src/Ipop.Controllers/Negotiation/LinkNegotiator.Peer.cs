using Ipop.Controllers.Negotiation;

namespace Ipop.Controllers;

/// <summary>
/// What the negotiator knows about one peer.
/// </summary>
public sealed partial class LinkNegotiator
{
    private sealed class Peer(PeerId id, bool initiator)
    {
        public PeerId Id { get; } = id;

        public bool IsInitiator { get; } = initiator;

        public ITincanLink? Link { get; set; }

        /// <summary>The peer as signaling last reported it trusted (what <see cref="RecheckWishesAsync"/> asks the policy about).</summary>
        public OverlayPeer? Seen { get; set; }

        /// <summary>The descriptor <see cref="Link"/> was created from.</summary>
        public LinkDescriptor? Remote { get; set; }

        public DateTimeOffset LinkSince { get; set; }

        /// <summary>The link reached Connected: the peer proved its key in a handshake.</summary>
        public bool EverConnected { get; set; }

        /// <summary>Initiator: the nonce of the offer waiting for its answer.</summary>
        public string? PendingNonce { get; set; }

        public DateTimeOffset PendingSince { get; set; }

        /// <summary>
        /// When the peer asked for an offer while ours was pending (taken as crossing). If ours had reached it, its answer
        /// comes within moments; when it does not, ours was lost (sent while the peer's signaling session was down).
        /// </summary>
        public DateTimeOffset? RequestCrossedAt { get; set; }

        /// <summary>The nonce of the last exchange completed (answer taken or offer answered): its copies are duplicates.</summary>
        public string? AnsweredNonce { get; set; }

        /// <summary>
        /// The policy wants this link (<see cref="ILinkPolicy.WantsLink"/>): this side makes attempts and retries. When
        /// false, a link the peer started is kept while it is up and removed, not retried, when it fails.
        /// </summary>
        public bool Wanted { get; set; } = true;

        /// <summary>
        /// Answering side: it asked the peer for an offer (<c>ipop-link-request</c>) and no offer has come since. If the wish
        /// ended meanwhile, the offer that answers the request makes a link neither side wants (the initiator offered only
        /// because it was asked), so that link is released at once (<see cref="LinkNegotiator"/>'s offer handling).
        /// </summary>
        public bool Requested { get; set; }

        public int Failures { get; set; }

        public DateTimeOffset NextAttemptAt { get; set; }

        /// <summary>Absent after an outage, link kept until the reconnect grace ends.</summary>
        public bool Unverified { get; set; }

        /// <summary>Went offline with a Connected link (its session ended): the link is kept until then (presence grace).</summary>
        public DateTimeOffset? AwayUntil { get; set; }
    }
}
