using System.Text.Json;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>A <c>groupvpn</c> or <c>socialvpn</c> process in a lab namespace, with its config and status socket.</summary>
internal sealed class ProductNode : IDisposable
{
    private readonly NetworkLab _lab;
    private readonly HostProgram _program;
    private readonly string _product;

    public ProductNode(NetworkLab lab, LabNamespace ns, string product, string directory, object config)
    {
        _lab = lab;
        Namespace = ns;
        _product = product;
        _program = product == "groupvpn" ? Artifacts.GroupVpnHost : Artifacts.SocialVpnHost;
        ConfigPath = Path.Combine(directory, $"{ns.Role}.{product}.json");
        File.WriteAllText(ConfigPath, JsonSerializer.Serialize(config));
    }

    public LabNamespace Namespace { get; }

    public string ConfigPath { get; }

    public LabProcess? Process { get; private set; }

    /// <summary>Starts the node and waits until its controller says it is running.</summary>
    public async Task StartAsync(string readyText)
    {
        StartInBackground();
        if (!await Process!.WaitForOutputAsync(readyText, TimeSpan.FromSeconds(40)))
        {
            throw new InvalidOperationException($"{_product} in {Namespace.Role} did not become ready:\n{Process.Output}");
        }
    }

    /// <summary>Starts the node without waiting for it (many nodes started at the same moment).</summary>
    public void StartInBackground()
    {
        Process?.Dispose();
        Process = _lab.Start(Namespace, _program.FileName, _program.Args("run", "--config", ConfigPath));
    }

    /// <summary>The <c>status</c> command's table, through the real CLI.</summary>
    public string Status()
    {
        CommandResult r = Namespace.TryExec(TimeSpan.FromSeconds(20), "env", ["COLUMNS=200", _program.FileName, .. _program.Args("status", "--config", ConfigPath)]);
        return r.StandardOutput + r.StandardError;
    }

    /// <summary><c>groupvpn members ...</c> with this node's config, in its namespace, as the group's owner runs it.</summary>
    public CommandResult Members(params string[] args) =>
        Namespace.TryExec(TimeSpan.FromSeconds(60), _program.FileName, _program.Args(["members", .. args, "--config", ConfigPath]));

    /// <summary>Graceful stop (SIGTERM), as systemd would.</summary>
    public bool Stop() => Process?.Terminate(TimeSpan.FromSeconds(10)) ?? true;

    public void Dispose() => Process?.Dispose();
}
