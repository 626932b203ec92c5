using System.Diagnostics;
using System.Globalization;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// What issue 11's "stop is boring" asks of a host after SIGTERM, checked the same way for every host: exit code 0
/// within 2 s, no exception printed, no help from the stop backstop, and its TUN device gone.
/// </summary>
internal static class SigtermExit
{
    /// <summary>How long a service manager waits after SIGTERM.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    /// <summary>Sends SIGTERM to <paramref name="p"/> unless it has already exited.</summary>
    public static void Send(LabProcess p)
    {
        if (!p.HasExited)
        {
            _ = Cmd.TryRun(TimeSpan.FromSeconds(5), "kill", "-TERM", p.Id.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Waits for <paramref name="p"/> (signalled <paramref name="sinceSignal"/> ago) to exit, adds its exit time to
    /// <paramref name="exitTimes"/> and returns what it did wrong (empty when nothing).
    /// </summary>
    public static List<string> Check(LabProcess p, LabNamespace ns, string device, Stopwatch sinceSignal, List<double> exitTimes)
    {
        TimeSpan left = Deadline - sinceSignal.Elapsed;
        bool exited = p.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        if (!exited)
        {
            // Give it a little longer only to report how it ended; it already failed the deadline.
            exited = p.WaitForExit(TimeSpan.FromSeconds(3));
        }

        double ms = sinceSignal.Elapsed.TotalMilliseconds;
        exitTimes.Add(ms);
        var problems = new List<string>();
        if (!exited)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"did not exit within {ms:F0} ms"));
        }
        else
        {
            if (ms > Deadline.TotalMilliseconds)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"exited after {ms:F0} ms"));
            }

            if (p.ExitCode != 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"exit code {p.ExitCode}"));
            }
        }

        if (p.Output.Contains("Unhandled exception", StringComparison.Ordinal) || p.Output.Contains("   at ", StringComparison.Ordinal))
        {
            problems.Add("printed an exception");
        }

        if (p.Output.Contains("exiting now", StringComparison.Ordinal))
        {
            // The backstop fired: the exit code and time would pass, but the stop itself hung.
            problems.Add("the stop hung and the 1.8 s backstop ended it");
        }

        if (exited && ns.TryExec(TimeSpan.FromSeconds(5), "ip", "link", "show", "dev", device).ExitCode == 0)
        {
            problems.Add($"{device} still exists");
        }

        return problems;
    }
}
