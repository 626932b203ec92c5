using System.Collections.Concurrent;
using Ipop.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Controllers.Tests.Fakes;

/// <summary>
/// Nodes running <see cref="LinkNegotiator"/> with a public <see cref="ILinkPolicy"/> whose trust and wishes the test
/// edits, on in-memory signaling (manual delivery), simulated links and one fake clock, pumped in a fixed order. Every
/// message a node sends is recorded.
/// </summary>
internal sealed class PolicyCluster : IAsyncDisposable
{
    public const string Group = "ring@conference.lab.test";
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;

    private PolicyCluster(int seed, InMemorySignalingFaults? faults)
    {
        _random = new Random(seed);
        Signaling = new InMemorySignalingNetwork { ManualDelivery = true, Faults = faults };
    }

    public InMemorySignalingNetwork Signaling { get; }

    public SimTincanNetwork Links { get; } = new();

    public FakeTimeProvider Time { get; } = new();

    public List<Node> Nodes { get; } = [];

    /// <summary>Every message sent, in order: (from, to, kind).</summary>
    public ConcurrentQueue<(PeerId From, PeerId To, string Kind)> Sent { get; } = new();

    /// <summary>
    /// Starts <paramref name="users"/> (user names without domain), all in one group; each trusts the users
    /// <paramref name="trusts"/> names for it (everyone if it is <c>null</c>) and wants those <paramref name="wants"/>
    /// names (nobody if it is <c>null</c>) from the start.
    /// </summary>
    public static async Task<PolicyCluster> StartAsync(string[] users, Func<string, IEnumerable<string>>? wants = null, Func<string, IEnumerable<string>>? trusts = null, int seed = 5, InMemorySignalingFaults? faults = null)
    {
        var cluster = new PolicyCluster(seed, faults);
        byte keySeed = 1;
        foreach (string user in users)
        {
            InMemorySignaling inner = cluster.Signaling.CreateNode($"{user}@lab.test");
            var signaling = new RecordingSignaling(inner, cluster.Sent);
            SimTincan tincan = cluster.Links.Add(inner.LocalId, keySeed++);
            tincan.Time = cluster.Time;
            var policy = new EditablePolicy([.. (trusts?.Invoke(user) ?? users).Select(u => $"{u}@lab.test")]);
            policy.Wanted.UnionWith((wants?.Invoke(user) ?? []).Select(w => $"{w}@lab.test"));
            var negotiator = new LinkNegotiator(signaling, tincan, policy, new NegotiationSettings(), cluster.Time, NullLogger.Instance)
            {
                ManualPump = true,
                Jitter = new Random((seed * 1000) + keySeed),
            };
            Task run = negotiator.RunAsync(ct => inner.JoinGroupAsync(Group, ct), cluster._stop.Token);
            cluster.Nodes.Add(new Node(user, inner, tincan, policy, negotiator, run));
        }

        await cluster.SettleAsync();
        return cluster;
    }

    public Node this[string user] => Nodes.Single(n => n.User == user);

    /// <summary>Delivers every signaling event and lets every negotiator handle its queue, in order, until nothing moves.</summary>
    public async Task SettleAsync()
    {
        for (int round = 0; round < 10_000; round++)
        {
            int moved = Signaling.DeliverPending();
            foreach (Node n in Nodes)
            {
                moved += await n.Negotiator.DrainAsync(CancellationToken.None);
            }

            if (moved == 0)
            {
                return;
            }
        }

        throw new InvalidOperationException("The cluster did not settle in 10 000 rounds: a message loop?");
    }

    /// <summary>Advances the clock by one second at a time, moving links (failing some at random in chaos) and settling after each.</summary>
    public async Task SecondsAsync(int seconds, bool chaos = false)
    {
        for (int t = 0; t < seconds; t++)
        {
            Time.Advance(TimeSpan.FromSeconds(1));
            Links.Step(Time.GetUtcNow(), _random, chaos);
            await SettleAsync();
        }
    }

    /// <summary>Every pair that either side wants is linked both ways, and no other pair holds a link on either end.</summary>
    public bool Converged()
    {
        foreach (Node a in Nodes)
        {
            foreach (Node b in Nodes)
            {
                if (string.CompareOrdinal(a.User, b.User) >= 0)
                {
                    continue;
                }

                bool wanted = a.Policy.Wanted.Contains(b.Signaling.LocalUser) || b.Policy.Wanted.Contains(a.Signaling.LocalUser);
                bool linked = Links.Linked(a.Id, b.Id);
                bool any = a.Tincan.Find(b.Id) is not null || b.Tincan.Find(a.Id) is not null;
                if (wanted ? !linked : any)
                {
                    return false;
                }
            }
        }

        return true;
    }

    public string Describe() => string.Join('\n', Nodes.Select(n =>
        $"{n.User} wants [{string.Join(',', n.Policy.Wanted.Select(w => w.Split('@')[0]))}]: {string.Join(", ", n.Tincan.Links.Select(l => $"{Nodes.Single(m => m.Id == l.Peer).User}={l.Status.State}"))}"));

    /// <summary>The unordered pairs that hold a link on at least one end.</summary>
    public IReadOnlyCollection<(string, string)> LinkPairs() =>
        [.. Nodes.SelectMany(n => n.Tincan.Links.Select(l => Pair(n.User, Nodes.Single(m => m.Id == l.Peer).User))).Distinct()];

    /// <summary>Changes what <paramref name="user"/> wants on its loop, then has it asked again (as a topology would).</summary>
    public async Task SetWantsAsync(string user, params string[] wanted)
    {
        Node n = this[user];
        n.Negotiator.Post(_ =>
        {
            n.Policy.Wanted.Clear();
            n.Policy.Wanted.UnionWith(wanted.Select(w => $"{w}@lab.test"));
            return Task.CompletedTask;
        });
        n.Negotiator.RecheckTrust();
        await SettleAsync();
    }

    public IEnumerable<string> KindsSent(string from, string to) =>
        Sent.Where(s => s.From == this[from].Id && s.To == this[to].Id).Select(s => s.Kind);

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Node n in Nodes)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => n.Run);
            await n.Signaling.DisposeAsync();
        }

        _stop.Dispose();
    }

    internal sealed record Node(string User, InMemorySignaling Signaling, SimTincan Tincan, EditablePolicy Policy, LinkNegotiator Negotiator, Task Run)
    {
        public PeerId Id => Signaling.LocalId;
    }

    /// <summary>Trusts online peers of the listed users; wants the users in <see cref="Wanted"/> (edited on the loop).</summary>
    internal sealed class EditablePolicy(HashSet<string> trusted) : ILinkPolicy
    {
        public HashSet<string> Trusted { get; } = trusted;

        public HashSet<string> Wanted { get; } = [];

        public ConcurrentQueue<string> Log { get; } = new();

        public bool IsTrusted(OverlayPeer peer) => peer.Presence == PeerPresence.Online && Trusted.Contains(peer.User);

        public bool WantsLink(OverlayPeer peer) => Wanted.Contains(peer.User);

        public void OnLinkCreated(PeerId peer, ITincanLink link) => Log.Enqueue($"created {peer.Value.Split('@')[0]}");

        public void OnLinkRemoved(PeerId peer, ITincanLink link) => Log.Enqueue($"removed {peer.Value.Split('@')[0]}");
    }

    /// <summary>Signaling that records what its node sends.</summary>
    private sealed class RecordingSignaling(InMemorySignaling inner, ConcurrentQueue<(PeerId, PeerId, string)> sent) : IOverlaySignaling
    {
        public PeerId LocalId => inner.LocalId;

        public string LocalUser => inner.LocalUser;

        public bool IsConnected => inner.IsConnected;

        public IReadOnlyCollection<OverlayPeer> Peers => inner.Peers;

        public event EventHandler<OverlayPeerEventArgs>? PeerChanged
        {
            add => inner.PeerChanged += value;
            remove => inner.PeerChanged -= value;
        }

        public event EventHandler<OverlayMessageEventArgs>? MessageReceived
        {
            add => inner.MessageReceived += value;
            remove => inner.MessageReceived -= value;
        }

        public event EventHandler<FriendRequestEventArgs>? FriendRequestReceived
        {
            add => inner.FriendRequestReceived += value;
            remove => inner.FriendRequestReceived -= value;
        }

        public event EventHandler<SignalingConnectionEventArgs>? ConnectionChanged
        {
            add => inner.ConnectionChanged += value;
            remove => inner.ConnectionChanged -= value;
        }

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public async Task SendAsync(PeerId to, OverlayMessage message, CancellationToken cancellationToken)
        {
            await inner.SendAsync(to, message, cancellationToken);
            sent.Enqueue((inner.LocalId, to, message.Kind)); // only what signaling took
        }

        public Task JoinGroupAsync(string group, CancellationToken cancellationToken) => inner.JoinGroupAsync(group, cancellationToken);

        public Task LeaveGroupAsync(string group, CancellationToken cancellationToken) => inner.LeaveGroupAsync(group, cancellationToken);

        public Task RequestFriendshipAsync(string user, CancellationToken cancellationToken) => inner.RequestFriendshipAsync(user, cancellationToken);

        public Task RespondToFriendRequestAsync(string user, bool accept, CancellationToken cancellationToken) => inner.RespondToFriendRequestAsync(user, accept, cancellationToken);

        public Task RemoveFriendAsync(string user, CancellationToken cancellationToken) => inner.RemoveFriendAsync(user, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
