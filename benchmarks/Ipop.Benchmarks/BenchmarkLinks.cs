namespace Ipop.Benchmarks;

/// <summary>Links between benchmark nodes on loopback.</summary>
internal static class BenchmarkLinks
{
    /// <summary>Creates the link both ways and waits (10 s at most) until both ends are connected.</summary>
    public static async Task<ITincanLink> ConnectAsync(ITincan x, string xName, ITincan y, string yName)
    {
        ITincanLink xy = x.CreateLink(new PeerId(yName), await y.GetLocalDescriptorAsync(CancellationToken.None));
        ITincanLink yx = y.CreateLink(new PeerId(xName), await x.GetLocalDescriptorAsync(CancellationToken.None));
        for (int i = 0; i < 1000 && (xy.Status.State != LinkState.Connected || yx.Status.State != LinkState.Connected); i++)
        {
            await Task.Delay(10);
        }

        return xy.Status.State == LinkState.Connected ? xy : throw new InvalidOperationException($"{xName}-{yName} did not connect");
    }
}
