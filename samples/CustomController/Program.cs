using Ipop;
using Ipop.Testing;
using Ipop.Tincan;
using Ipop.Xmpp;

// Self-test: three real Tincan nodes on 127.0.0.1, in-memory signaling, everyone friends with everyone, so the
// controllers alone decide. alice allows bob; bob allows alice and carol; carol allows alice and bob.
// Expected: alice-bob and bob-carol link, alice-carol never does (alice refuses), bob's link to carol goes when he
// takes carol off his list, and every link is gone once the controllers stop.
using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
string[] users = ["alice@example.org", "bob@example.org", "carol@example.org"];
var network = new InMemorySignalingNetwork();
InMemorySignaling[] nodes = [.. users.Select(u => network.CreateNode(u, FriendRequestPolicy.AcceptListed, users))];
ITincan[] tincans = [.. users.Select(_ => TincanNode.Create(new TincanOptions { ListenAddress = "127.0.0.1" }))];
foreach (ITincan t in tincans)
{
    await t.StartAsync(timeout.Token);
}

AllowListController[] controllers =
[
    new(nodes[0], tincans[0], ["bob@example.org"]),
    new(nodes[1], tincans[1], ["alice@example.org", "carol@example.org"]),
    new(nodes[2], tincans[2], ["alice@example.org", "bob@example.org"]),
];
Task[] runs = [.. controllers.Select(c => c.RunAsync(stop.Token))];
await Task.WhenAll(controllers.Select(c => c.Ready)).WaitAsync(timeout.Token); // listening and connected: no sleep
await nodes[0].RequestFriendshipAsync(users[1], timeout.Token);
await nodes[0].RequestFriendshipAsync(users[2], timeout.Token);
await nodes[1].RequestFriendshipAsync(users[2], timeout.Token);

await Task.WhenAll(Linked(tincans[0], nodes[1]), Linked(tincans[1], nodes[0]), Linked(tincans[1], nodes[2]), Linked(tincans[2], nodes[1]));
await Task.WhenAll(controllers.Select(c => c.WhenIdleAsync())).WaitAsync(timeout.Token);
bool refused = !tincans[0].TryGetLink(nodes[2].LocalId, out _) && !tincans[2].TryGetLink(nodes[0].LocalId, out _);
for (int i = 0; i < users.Length; i++)
{
    Console.WriteLine($"{users[i].Split('@')[0]}: " + string.Join(", ", tincans[i].Links.Select(l => $"{l.Peer} {l.Status}")));
}

controllers[1].Disallow("carol@example.org");
await controllers[1].WhenIdleAsync().WaitAsync(timeout.Token);
bool revoked = !tincans[1].TryGetLink(nodes[2].LocalId, out _);
Console.WriteLine($"bob took carol off his list: link {(revoked ? "removed" : "STILL THERE")}");

await stop.CancelAsync();
await Task.WhenAll(runs).ContinueWith(_ => { }, TaskScheduler.Default); // they end cancelled, links removed
int left = tincans.Sum(t => t.Links.Count);
Console.WriteLine($"links left after stop: {left}");
foreach (ITincan t in tincans)
{
    await t.DisposeAsync();
}

bool ok = refused && revoked && left == 0;
Console.WriteLine(ok ? "custom controller: OK" : "custom controller: FAILED");
return ok ? 0 : 1;

// Completes when t has a Connected link to node: checked on every link event, no polling.
static Task Linked(ITincan t, InMemorySignaling node)
{
    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    void Check(object? sender, LinkStatusChangedEventArgs? e)
    {
        if (t.TryGetLink(node.LocalId, out ITincanLink? l) && l.Status.State == LinkState.Connected)
        {
            done.TrySetResult();
            t.LinkStatusChanged -= Check;
        }
    }

    t.LinkStatusChanged += Check;
    Check(null, null);
    return done.Task;
}
