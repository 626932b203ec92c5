using Ipop;
using Ipop.Tincan;
using Ipop.Xmpp;

// Self-test: three nodes on an in-memory signaling network with real Tincan nodes on 127.0.0.1.
// alice allows bob; bob allows alice and carol; carol allows bob. Expected: alice<->bob and bob<->carol link,
// alice<->carol never does (alice does not allow carol).
using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
var network = new InMemorySignalingNetwork();
InMemorySignaling alice = network.CreateNode("alice@example.org", FriendRequestPolicy.AcceptListed, ["bob@example.org"]);
InMemorySignaling bob = network.CreateNode("bob@example.org", FriendRequestPolicy.AcceptListed, ["alice@example.org", "carol@example.org"]);
InMemorySignaling carol = network.CreateNode("carol@example.org", FriendRequestPolicy.AcceptListed, ["bob@example.org"]);

ITincan Node() => TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" });
await using ITincan ta = Node();
await using ITincan tb = Node();
await using ITincan tc = Node();
var runs = new[]
{
    new AllowListController(alice, ta, new HashSet<string> { "bob@example.org" }).RunAsync(stop.Token),
    new AllowListController(bob, tb, new HashSet<string> { "alice@example.org", "carol@example.org" }).RunAsync(stop.Token),
    new AllowListController(carol, tc, new HashSet<string> { "bob@example.org" }).RunAsync(stop.Token),
};

// Friendship (the in-memory network only delivers messages between friends or group members).
await Task.Delay(200);
await alice.RequestFriendshipAsync("bob@example.org", stop.Token);
await carol.RequestFriendshipAsync("bob@example.org", stop.Token);

static bool Connected(ITincan t, string user) => t.Links.Any(l => l.Peer.Value.StartsWith(user, StringComparison.Ordinal) && l.Status.State == LinkState.Connected);
while (!stop.IsCancellationRequested && !(Connected(ta, "bob") && Connected(tb, "alice") && Connected(tb, "carol") && Connected(tc, "bob")))
{
    await Task.Delay(100);
}

bool ok = Connected(ta, "bob") && Connected(tc, "bob") && !ta.Links.Any(l => l.Peer.Value.StartsWith("carol", StringComparison.Ordinal));
foreach ((string name, ITincan t) in new[] { ("alice", ta), ("bob", tb), ("carol", tc) })
{
    Console.WriteLine($"{name}: " + string.Join(", ", t.Links.Select(l => $"{l.Peer} {l.Status}")));
}

Console.WriteLine(ok ? "custom controller: OK" : "custom controller: FAILED");
await stop.CancelAsync();
await Task.WhenAll(runs.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
return ok ? 0 : 1;
