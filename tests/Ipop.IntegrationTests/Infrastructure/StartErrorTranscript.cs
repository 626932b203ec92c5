using System.Text;
using System.Text.RegularExpressions;
using Ipop.Lab.Namespaces;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// How a host that refused to start is written into a snapshot: its exit code, every line of stderr, and the
/// crit/fail log lines of stdout without their clock, with the test's directory as <c>{dir}</c>.
/// </summary>
internal static partial class StartErrorTranscript
{
    public static void Append(StringBuilder text, string name, CommandResult r, string dir)
    {
        text.Append("## ").Append(name).Append(" -> exit ").Append(r.ExitCode).Append('\n');
        foreach (string line in r.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            text.Append(line.Replace(dir, "{dir}", StringComparison.Ordinal)).Append('\n');
        }

        // A failure the running controller reports is a log line on stdout: keep those, without the clock.
        foreach (string line in r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.Contains("crit:", StringComparison.Ordinal) || line.Contains("fail:", StringComparison.Ordinal))
            {
                text.Append(Clock().Replace(line, string.Empty).Replace(dir, "{dir}", StringComparison.Ordinal)).Append('\n');
            }
        }
    }

    [GeneratedRegex(@"^\d\d:\d\d:\d\d\.\d\d\d ")]
    private static partial Regex Clock();
}
