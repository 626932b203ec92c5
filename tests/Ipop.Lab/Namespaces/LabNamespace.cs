namespace Ipop.Lab.Namespaces;

/// <summary>A network namespace of the lab (a host, a NAT box, a switch or a server).</summary>
public sealed class LabNamespace
{
    internal LabNamespace(string name, string role)
    {
        Name = name;
        Role = role;
    }

    /// <summary>The kernel name (<c>ip netns</c>), unique per run.</summary>
    public string Name { get; }

    /// <summary>What the test calls it ("alice", "nat1", "internet").</summary>
    public string Role { get; }

    /// <summary>Runs a command inside the namespace and returns its output; throws if it fails.</summary>
    public string Exec(string file, params string[] args) => Cmd.Run("ip", ["netns", "exec", Name, file, .. args]);

    /// <summary>Runs a command inside the namespace without throwing.</summary>
    public CommandResult TryExec(TimeSpan timeout, string file, params string[] args) => Cmd.TryRun(timeout, "ip", ["netns", "exec", Name, file, .. args]);

    /// <summary>Pings <paramref name="address"/> from this namespace; true when at least one reply came back.</summary>
    public bool Ping(string address, int count = 3, double intervalSeconds = 0.2, int deadlineSeconds = 5)
    {
        string ping = address.Contains(':', StringComparison.Ordinal) ? "-6" : "-4";
        CommandResult r = TryExec(TimeSpan.FromSeconds(deadlineSeconds + 5), "ping", ping, "-n", "-c", count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-i", intervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-w", deadlineSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), address);
        return r.ExitCode == 0;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Role} ({Name})";
}
