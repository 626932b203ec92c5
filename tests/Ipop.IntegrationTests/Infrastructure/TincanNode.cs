using System.Globalization;
using System.Text.Json;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>An <c>ipop-tincan</c> process in a lab namespace, with its generated key and config.</summary>
internal sealed class TincanNodeProcess
{
    private TincanNodeProcess(LabNamespace ns, string keyPath, string publicKey, string directory)
    {
        Namespace = ns;
        KeyPath = keyPath;
        PublicKey = publicKey;
        Directory = directory;
    }

    public LabNamespace Namespace { get; }

    public string KeyPath { get; }

    public string PublicKey { get; }

    public string Directory { get; }

    public LabProcess? Process { get; private set; }

    /// <summary>Creates the node's key with the real CLI (<c>ipop-tincan genkey</c>).</summary>
    public static TincanNodeProcess Create(LabNamespace ns, string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        string key = Path.Combine(directory, ns.Role + ".key");
        string publicKey = Cmd.Run(Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("genkey", "--key", key)).Trim();
        return new TincanNodeProcess(ns, key, publicKey, directory);
    }

    /// <summary>Writes the config and starts the node; waits until it says it is ready.</summary>
    public async Task StartAsync(NetworkLab lab, string mode, int port, string[] addresses, IEnumerable<object> peers, string? mac = null, bool forward = false)
    {
        var config = new
        {
            Tincan = new { ListenPort = port, PrivateKeyPath = KeyPath },
            Interface = new { Name = "ipop0", Mode = mode, Mtu = 1420, Addresses = addresses, MacAddress = mac, Forward = forward },
            Peers = peers,
            Status = new { SocketPath = Path.Combine(Directory, Namespace.Role + ".status.sock") },
            StatusIntervalSeconds = 1,
        };
        string path = Path.Combine(Directory, Namespace.Role + ".json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(config));
        Process = lab.Start(Namespace, Artifacts.TincanHost.FileName, Artifacts.TincanHost.Args("run", "--config", path));
        if (!await Process.WaitForOutputAsync("ipop-tincan ready", TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"{Namespace.Role} did not become ready:\n{Process.Output}");
        }
    }

    public static object Peer(string id, string publicKey, string endpoint, params string[] allowedIps) =>
        new { Id = id, PublicKey = publicKey, Endpoint = endpoint, AllowedIps = allowedIps };

    public static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
