using System.Text;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api;

/// <summary>
/// Checks <see cref="ControllerApiOptions"/> at startup; every failure names the setting and the accepted range.
/// Internal like every other validator: <c>AddTincanControllerApi</c> registers it and the server runs it.
/// </summary>
internal sealed class ControllerApiOptionsValidator : IValidateOptions<ControllerApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ControllerApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.SocketPath))
        {
            failures.Add("ControllerApi:SocketPath is required (an absolute path such as /run/ipop/tincan.sock).");
        }
        else if (!Path.IsPathFullyQualified(options.SocketPath))
        {
            failures.Add($"ControllerApi:SocketPath must be an absolute path; got '{options.SocketPath}'.");
        }
        else if (Encoding.UTF8.GetByteCount(options.SocketPath) > ControllerApiOptions.MaxSocketPathBytes)
        {
            failures.Add($"ControllerApi:SocketPath is {Encoding.UTF8.GetByteCount(options.SocketPath)} bytes; a Unix socket path holds at most {ControllerApiOptions.MaxSocketPathBytes}.");
        }
        else if (options.SocketPath.EndsWith('/'))
        {
            failures.Add($"ControllerApi:SocketPath must name a file, not a directory; got '{options.SocketPath}'.");
        }

        if (options.MaxRequestBytes is < 1024 or > 16 * 1024 * 1024)
        {
            failures.Add($"ControllerApi:MaxRequestBytes must be between 1024 and 16777216; got {options.MaxRequestBytes}.");
        }

        if (options.ClientQueueCapacity is < 8 or > 65536)
        {
            failures.Add($"ControllerApi:ClientQueueCapacity must be between 8 and 65536; got {options.ClientQueueCapacity}.");
        }

        if (options.MaxClients is < 1 or > 1024)
        {
            failures.Add($"ControllerApi:MaxClients must be between 1 and 1024; got {options.MaxClients}.");
        }

        if (options.MinStatsInterval < TimeSpan.FromMilliseconds(10) || options.MinStatsInterval > TimeSpan.FromHours(1))
        {
            failures.Add($"ControllerApi:MinStatsInterval must be between 00:00:00.010 and 01:00:00; got {options.MinStatsInterval}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
