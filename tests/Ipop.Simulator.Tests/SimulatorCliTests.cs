using System.Text.RegularExpressions;

namespace Ipop.Simulator.Tests;

public sealed class SimulatorCliTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = SimulatorCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--nodes", "many", "--nodes")]
    [InlineData("--nodes", "1", "--nodes must be between 2 and 100000")]
    [InlineData("--topology", "ring", "ring")]
    [InlineData("--churn", "-5", "--churn must be between 0 and 100 (percent per minute)")]
    public void A_bad_value_prints_one_error_line_and_exits_2(string option, string value, string expected)
    {
        (int code, string output, string error) = Run(option, value);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("ipop-simulator: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_line_is_machine_readable()
    {
        (int code, string output, string error) = Run("--nodes", "16", "--churn", "0", "--probes", "50");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        string last = output.TrimEnd().Split('\n')[^1];
        Assert.Matches(new Regex(@"^nodes=16 topology=structured converged_s=\d+\.\d delivery=100\.00% churn_delivery=n/a% max_links=\d+ mean_links=\d+\.\d\d msgs_per_node_min=\d+\.\d wall_s=\d+\.\d$"), last);
    }

    [Fact]
    public void The_real_engine_runs_real_controllers_to_full_delivery_within_the_link_bound()
    {
        (int code, string output, string error) = Run("--engine", "real", "--nodes", "40", "--probes", "300", "--duration", "30");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        string last = output.TrimEnd().Split('\n')[^1];
        Match m = new Regex(@"^nodes=40 topology=structured engine=real converged_s=(\d+\.\d) delivery=100\.00% churn_delivery=(\d+\.\d\d)% max_links=(\d+) mean_links=\d+\.\d msgs_per_node_min=\d+\.\d wall_s=\d+\.\d$").Match(last);
        Assert.True(m.Success, output);
        Assert.InRange(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        Assert.InRange(double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 95, 100);
        Assert.InRange(int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), 4, (2 * 2) + 6 + 8); // 2k + ceil(log2 40) + on-demand cap
    }
}
