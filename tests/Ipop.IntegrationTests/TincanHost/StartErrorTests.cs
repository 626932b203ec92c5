using System.Text;
using System.Text.RegularExpressions;
using Ipop.IntegrationTests.Infrastructure;
using Ipop.Lab;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.TincanHost;

/// <summary>
/// Issue 11's "errors for humans": every way the three hosts (<c>ipop-tincan</c>, <c>groupvpn</c>, <c>socialvpn</c>)
/// refuse to start prints one line per problem that names the key path as the file spells it, the JSON position, or
/// the key file and its fix, never a stack trace, and exits 2 (config, key file) or 3 (the machine refused). The real
/// programs run on a table of bad files; the snapshot holds exactly what a service manager would show.
/// </summary>
public sealed partial class StartErrorTests : IDisposable
{
    private const string PublicKey = "8tVFOV7Fj2PhYjt7hkxbYRydXRjC0VMEQ64PwdC0qzw=";
    private readonly string _dir = Directory.CreateTempSubdirectory("ipop-start-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Ipop_tincan_start_errors_are_one_line_each_and_name_the_key()
    {
        string key = GoodKey("tincan.key");
        string tincan = $$"""{ "PrivateKeyPath": "{{key}}" }""";
        string iface = """{ "Name": "ipt0", "Addresses": [ "198.19.0.1/24" ] }""";
        string peer = $$"""{ "Id": "b", "PublicKey": "{{PublicKey}}", "Endpoint": "198.18.0.2:51820", "AllowedIps": [ "198.19.0.2/32" ] }""";
        var cases = new (string Name, string Json)[]
        {
            ("unknown key", $$"""{ "Tincan": {{tincan}}, "Interface": { "Nmae": "ipt0", "Addresses": [ "198.19.0.1/24" ] } }"""),
            ("unknown top-level key", $$"""{ "Tincan": {{tincan}}, "Interface": {{iface}}, "Peer": [ {{peer}} ] }"""),
            ("truncated JSON", $$"""{ "Tincan": {{tincan}},{{"\n"}}  "Interface": { "Name": "ipt0",{{"\n"}}"""),
            ("AllowedIps as a string", $$"""{ "Tincan": {{tincan}}, "Interface": {{iface}}, "Peers": [ { "Id": "b", "PublicKey": "{{PublicKey}}", "Endpoint": "198.18.0.2:51820", "AllowedIps": "198.19.0.2/32" } ] }"""),
            ("ListenPort out of range", $$"""{ "Tincan": { "PrivateKeyPath": "{{key}}", "ListenPort": 70000 }, "Interface": {{iface}}, "Peers": [ {{peer}} ] }"""),
            ("Mtu not a number", $$"""{ "Tincan": {{tincan}}, "Interface": { "Name": "ipt0", "Mtu": "big", "Addresses": [ "198.19.0.1/24" ] } }"""),
            ("duration in words", $$"""{ "Tincan": { "PrivateKeyPath": "{{key}}", "HandshakeTimeout": "5 seconds" }, "Interface": {{iface}} }"""),
            ("Interface as a string", $$"""{ "Tincan": {{tincan}}, "Interface": "ipt0" }"""),
            ("bad peer values", $$"""{ "Tincan": {{tincan}}, "Interface": {{iface}}, "Peers": [ { "Id": "b", "PublicKey": "short", "Endpoint": "nowhere", "AllowedIps": [ "198.19.0.2" ] } ] }"""),
            ("key mode 0644", KeyCase(iface, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)),
            ("key mode 0640", KeyCase(iface, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead)),
            ("key mode 0604", KeyCase(iface, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead)),
            ("key is a symlink", $$"""{ "Tincan": { "PrivateKeyPath": "{{Symlink(key)}}" }, "Interface": {{iface}} }"""),
            ("key owned by another user", $$"""{ "Tincan": { "PrivateKeyPath": "{{ForeignKey()}}" }, "Interface": {{iface}} }"""),
            ("key file without a key", $$"""{ "Tincan": { "PrivateKeyPath": "{{NotAKey()}}" }, "Interface": {{iface}} }"""),
        };

        Snapshot.Verify(RunTable(Artifacts.TincanHost, cases));
    }

    [Fact]
    public void Groupvpn_start_errors_are_one_line_each_and_name_the_key()
    {
        string key = GoodKey("groupvpn.key");
        string xmpp = """{ "Jid": "alice@lab.test", "Password": "p", "Server": "198.18.0.100" }""";
        string group = """{ "Group": "lab@conference.lab.test", "Subnet": "198.19.0.0/16", "InterfaceName": "ipg0" }""";
        string status = $$"""{ "SocketPath": "{{_dir}}/groupvpn.sock" }""";
        var cases = new (string Name, string Json)[]
        {
            ("unknown key", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{key}}" }, "GroupVpn": { "Group": "lab@conference.lab.test", "Subnt": "198.19.0.0/16" }, "Status": {{status}} }"""),
            ("unknown section", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{key}}" }, "GroupVPN2": {{group}}, "Status": {{status}} }"""),
            ("unknown status key", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{key}}" }, "GroupVpn": {{group}}, "Status": { "Socket": "x" } }"""),
            ("truncated JSON", $$"""{ "Xmpp": {{xmpp}},{{"\n"}}  "GroupVpn": {{"\n"}}"""),
            ("ListenPort out of range", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{key}}", "ListenPort": 70000 }, "GroupVpn": {{group}}, "Status": {{status}} }"""),
            ("Xmpp port not a number", $$"""{ "Xmpp": { "Jid": "alice@lab.test", "Password": "p", "Server": "198.18.0.100", "Port": "xmpp" }, "Tincan": { "PrivateKeyPath": "{{key}}" }, "GroupVpn": {{group}}, "Status": {{status}} }"""),
            ("StunServers as a string", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{key}}", "StunServers": "198.18.0.3:3478" }, "GroupVpn": {{group}}, "Status": {{status}} }"""),
            ("key mode 0644", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{LooseKey()}}" }, "GroupVpn": {{group}}, "Status": {{status}} }"""),
            ("key is a symlink", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{Symlink(key)}}" }, "GroupVpn": {{group}}, "Status": {{status}} }"""),
        };

        Snapshot.Verify(RunTable(Artifacts.GroupVpnHost, cases));
    }

    [Fact]
    public void Socialvpn_start_errors_are_one_line_each_and_name_the_key()
    {
        string key = GoodKey("socialvpn.key");
        string xmpp = """{ "Jid": "alice@lab.test", "Password": "p", "Server": "198.18.0.100" }""";
        string social = """{ "InterfaceName": "ips0" }""";
        string status = $$"""{ "SocketPath": "{{_dir}}/socialvpn.sock" }""";
        var cases = new (string Name, string Json)[]
        {
            ("unknown key", $$"""{ "Xmpp": { "Jidd": "alice@lab.test", "Password": "p", "Server": "198.18.0.100" }, "Tincan": { "PrivateKeyPath": "{{key}}" }, "SocialVpn": {{social}}, "Status": {{status}} }"""),
            ("AcceptedFriends as a string", $$"""{ "Xmpp": { "Jid": "alice@lab.test", "Password": "p", "Server": "198.18.0.100", "AcceptedFriends": "bob@lab.test" }, "Tincan": { "PrivateKeyPath": "{{key}}" }, "SocialVpn": {{social}}, "Status": {{status}} }"""),
            ("truncated JSON", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "ListenPort": 1 """),
            ("key owned by another user", $$"""{ "Xmpp": {{xmpp}}, "Tincan": { "PrivateKeyPath": "{{ForeignKey()}}" }, "SocialVpn": {{social}}, "Status": {{status}} }"""),
        };

        Snapshot.Verify(RunTable(Artifacts.SocialVpnHost, cases));
    }

    [Fact]
    public void Ipop_tincan_with_its_udp_port_taken_exits_3_with_one_line_naming_the_key()
    {
        // A runtime failure, not a config error: the same file works once the port is free. Nothing here touches the
        // machine's interfaces: the node fails before it would create its TUN device.
        using var taken = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int port = ((System.Net.IPEndPoint)taken.Client.LocalEndPoint!).Port;
        string path = Path.Combine(_dir, "port.json");
        File.WriteAllText(path, $$"""{ "Tincan": { "PrivateKeyPath": "{{GoodKey("port.key")}}", "ListenAddress": "127.0.0.1", "ListenPort": {{port}} }, "Interface": { "Name": "ipt0", "Addresses": [ "198.19.0.1/24" ] } }""");
        CommandResult r = Cmd.TryRun(TimeSpan.FromSeconds(30), Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", path));
        string all = r.StandardOutput + r.StandardError;
        Assert.Equal(3, r.ExitCode);
        Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);
        string[] fatal = [.. all.Split('\n').Where(l => l.Contains("crit:", StringComparison.Ordinal))];
        string line = Assert.Single(fatal);
        Assert.Contains($"Tincan could not open UDP 127.0.0.1:{port} (Tincan:ListenAddress, Tincan:ListenPort)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Created Tun interface", all, StringComparison.Ordinal);
    }

    /// <summary>Runs the program on each file; the result lists, per case, the exit code and what it printed on stderr.</summary>
    private string RunTable(HostProgram program, (string Name, string Json)[] cases)
    {
        var text = new StringBuilder();
        int n = 0;
        foreach ((string name, string json) in cases)
        {
            string path = Path.Combine(_dir, $"case{n++}.json");
            File.WriteAllText(path, json);
            CommandResult r = Cmd.TryRun(TimeSpan.FromSeconds(30), program.FileName, program.Args("run", "--config", path));
            Assert.False(r.TimedOut, $"{name}: the program did not exit\n{r.StandardOutput}\n{r.StandardError}");
            string all = r.StandardOutput + r.StandardError;
            Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", all, StringComparison.Ordinal);
            StartErrorTranscript.Append(text, name, r, _dir);
        }

        return text.ToString();
    }

    private string GoodKey(string name)
    {
        string path = Path.Combine(_dir, name);
        Cmd.Run(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("genkey", "--key", path));
        return path;
    }

    private string KeyCase(string iface, UnixFileMode mode)
    {
        string path = GoodKey($"mode{(int)mode}.key");
        File.SetUnixFileMode(path, mode);
        return $$"""{ "Tincan": { "PrivateKeyPath": "{{path}}" }, "Interface": {{iface}} }""";
    }

    private string LooseKey()
    {
        string path = GoodKey("loose.key");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return path;
    }

    private string Symlink(string target)
    {
        string path = Path.Combine(_dir, "link-" + Path.GetFileName(target));
        if (!File.Exists(path))
        {
            File.CreateSymbolicLink(path, target);
        }

        return path;
    }

    private string ForeignKey()
    {
        // The tests run as root: a key that uid 4242 owns is not ours, whatever its mode.
        string path = GoodKey("foreign.key");
        Cmd.Run("chown", "4242:4242", path);
        return path;
    }

    private string NotAKey()
    {
        string path = Path.Combine(_dir, "empty.key");
        File.WriteAllText(path, "not a key\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

}
