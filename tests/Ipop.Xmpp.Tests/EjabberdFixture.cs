using Ipop.Lab.Servers;

namespace Ipop.Xmpp.Tests;

/// <summary>One private ejabberd shared by the tests of a class; accounts are unique per test.</summary>
public sealed class EjabberdFixture : XmppServerFixture
{
    public EjabberdServer Server { get; private set; } = null!;

    public override string Domain => Server.Domain;

    public override string MucDomain => Server.MucDomain;

    public override string Directory => Server.Directory;

    public override string CertificateSha256 => Server.CertificateSha256;

    protected override string Address => Server.Address;

    protected override int Port => Server.Port;

    protected override string CertificatePath => Server.CertificatePath;

    public override async ValueTask InitializeAsync() => Server = await EjabberdServer.StartAsync();

    public override async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    protected override Task RegisterUserAsync(string user, string password) => Server.RegisterAsync(user, password);

    // Graceful (SIGTERM): after SIGKILL ejabberd's Mnesia loses the accounts registered just before.
    public override Task StopServerAsync() => Server.StopAsync(graceful: true);

    public override Task StartServerAgainAsync(CancellationToken cancellationToken) => Server.StartAgainAsync(cancellationToken);

    public override Task PauseServerAsync() => Server.PauseAsync();

    public override Task ResumeServerAsync() => Server.ResumeAsync();
}
