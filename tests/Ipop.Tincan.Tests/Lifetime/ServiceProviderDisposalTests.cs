using Ipop.Tincan.Tests.DataPlane;
using Microsoft.Extensions.DependencyInjection;

namespace Ipop.Tincan.Tests.Lifetime;

/// <summary>
/// Issue 15: a provider that built the node disposes it whichever way the provider itself is disposed; a synchronous
/// <c>using</c> used to throw "'LinkManager' type only implements IAsyncDisposable".
/// </summary>
public sealed class ServiceProviderDisposalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ServiceProvider Build() => new ServiceCollection()
        .AddTincan(o =>
        {
            o.ListenAddress = "127.0.0.1";
            o.SocketBufferBytes = 256 * 1024;
        })
        .BuildServiceProvider();

    [Fact]
    public async Task A_synchronous_using_of_the_provider_disposes_a_started_node_with_an_interface()
    {
        using var nic = new FakeNic("provider");
        ITincan tincan;
        using (ServiceProvider provider = Build())
        {
            tincan = provider.GetRequiredService<ITincan>();
            await tincan.StartAsync(Ct);
            tincan.AttachInterface(nic, new TestRouter(tincan));
            await TestNode.WaitUntilAsync(() => nic.ActiveReads == 1, "the reader thread reads");
        }

        Assert.Equal(0, nic.ActiveReads);
        Assert.Throws<ObjectDisposedException>(() => tincan.CreateLink(new PeerId("x"), new LinkDescriptor(NodePublicKeyFor(1), [], string.Empty, string.Empty)));
    }

    [Fact]
    public void A_synchronous_using_of_the_provider_disposes_a_node_that_was_never_started()
    {
        using ServiceProvider provider = Build();
        _ = provider.GetRequiredService<ITincan>();
    }

    [Fact]
    public async Task An_asynchronous_using_of_the_provider_disposes_the_node()
    {
        ITincan tincan;
        await using (ServiceProvider provider = Build())
        {
            tincan = provider.GetRequiredService<ITincan>();
            await tincan.StartAsync(Ct);
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(() => tincan.StartAsync(Ct));
    }

    private static NodePublicKey NodePublicKeyFor(byte b)
    {
        byte[] key = new byte[32];
        key[0] = b;
        return new NodePublicKey(key);
    }
}
