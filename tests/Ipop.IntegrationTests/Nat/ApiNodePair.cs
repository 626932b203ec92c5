using System.Diagnostics;
using System.Text.Json.Nodes;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Nat;

/// <summary>Two <c>ipop-tincan</c> nodes in the NAT lab, linked through their controller APIs as an external controller would.</summary>
internal static class ApiNodePair
{
    /// <summary>
    /// Starts a node in <paramref name="a"/> (198.19.0.1) and one in <paramref name="b"/> (198.19.0.2) with the lab's
    /// STUN and TURN server, links them both ways and returns once <paramref name="a"/> gets a ping reply (bounded by
    /// <paramref name="wait"/>). Every started node is added to <paramref name="started"/>, so the caller disposes
    /// it also when this fails.
    /// </summary>
    public static async Task<(ApiNode A, ApiNode B)> LinkAsync(NatLabFixture lab, LabNamespace a, LabNamespace b, string prefix, ICollection<ApiNode> started, TimeSpan wait, CancellationToken ct)
    {
        string dir = Path.Combine(lab.Directory, prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        ApiNode nodeA = await ApiNode.StartAsync(lab.Lab, a, dir, NatLabFixture.Stun, NatLabFixture.TurnList, ct);
        started.Add(nodeA);
        ApiNode nodeB = await ApiNode.StartAsync(lab.Lab, b, dir, NatLabFixture.Stun, NatLabFixture.TurnList, ct);
        started.Add(nodeB);
        await nodeA.CreateInterfaceAsync("198.19.0.1/24", ct);
        await nodeB.CreateInterfaceAsync("198.19.0.2/24", ct);
        JsonNode descriptorA = await nodeA.DescriptorAsync(ct);
        JsonNode descriptorB = await nodeB.DescriptorAsync(ct);
        await nodeA.LinkAsync(nodeB, descriptorB, "198.19.0.2/32", ct);
        await nodeB.LinkAsync(nodeA, descriptorA, "198.19.0.1/32", ct);
        bool replied = false;
        var clock = Stopwatch.StartNew();
        while (!replied && clock.Elapsed < wait)
        {
            replied = a.Ping("198.19.0.2", count: 1, intervalSeconds: 0.2, deadlineSeconds: 1);
        }

        Assert.True(replied, $"no ping reply within {wait.TotalSeconds:0} s\n{nodeA.Process.Output}\n{nodeB.Process.Output}");
        return (nodeA, nodeB);
    }
}
