using Microsoft.Extensions.Options;

namespace Ipop.Controllers.GroupVpn;

/// <summary>Runs <see cref="GroupVpnOptions.Validate"/> for the options pipeline (ValidateOnStart).</summary>
internal sealed class GroupVpnOptionsValidator : IValidateOptions<GroupVpnOptions>
{
    public ValidateOptionsResult Validate(string? name, GroupVpnOptions options)
    {
        IReadOnlyList<string> errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
