using System.CommandLine;
using Ipop.Samples.Hosting;
using Ipop.Xmpp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Ipop.GroupVpnHost;

/// <summary>
/// <c>groupvpn members add|remove USER... | list --config file.json</c>: the group's owner edits its member list
/// (the affiliations of the group's members-only room, XEP-0045). It signs in with the node's own account and a
/// resource of its own, so it runs beside the node. Exit codes: 0 done, 2 bad config or arguments, 3 the server
/// refused (not the owner, cannot sign in, no such room).
/// </summary>
internal static class MembersCommand
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static Command Create()
    {
        var members = new Command("members", "Show or change the group's member list (changes need the group's owner or an admin).");
        members.Add(Change("add", "Add users to the group; the first add creates the members-only room with this account as its owner."));
        members.Add(Change("remove", "Remove users from the group; their links end at once."));
        var config = ConfigOption();
        var list = new Command("list", "List the group's members (owner, admins, members).") { config };
        list.SetAction((parse, ct) => RunAsync(parse.GetValue(config)!, "list", [], ct));
        members.Add(list);
        return members;
    }

    private static Option<FileInfo> ConfigOption() => new("--config") { Description = "Path of the node's JSON configuration (its Xmpp account and GroupVpn:Group).", Required = true };

    private static Command Change(string verb, string description)
    {
        var config = ConfigOption();
        var users = new Argument<string[]>("users") { Description = "Bare JIDs (user@domain).", Arity = ArgumentArity.OneOrMore };
        var command = new Command(verb, description) { users, config };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(config)!, verb, parse.GetValue(users)!, ct));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo file, string verb, string[] users, CancellationToken ct)
    {
        if (!TryLoad(file, out XmppSignalingOptions? options, out string? group))
        {
            return 2;
        }

        foreach (string user in users)
        {
            if (user.Split('@') is not [{ Length: > 0 }, { Length: > 0 } domain] || domain.Contains('/', StringComparison.Ordinal))
            {
                await Console.Error.WriteLineAsync($"groupvpn: '{user}' is not a user JID (user@domain).");
                return 2;
            }
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Deadline);
        try
        {
            await using var signaling = new XmppSignaling(options);
            await signaling.ConnectAsync(deadline.Token);
            switch (verb)
            {
                case "add":
                    foreach (string user in users)
                    {
                        bool added = await signaling.AddGroupMemberAsync(group, user, deadline.Token);
                        Console.WriteLine(added ? $"added {user} to {group}" : $"{user} is already a member of {group}");
                    }

                    break;
                case "remove":
                    foreach (string user in users)
                    {
                        bool removed = await signaling.RemoveGroupMemberAsync(group, user, deadline.Token);
                        Console.WriteLine(removed ? $"removed {user} from {group}" : $"{user} is not a member of {group}");
                    }

                    break;
                default:
                    IReadOnlyList<GroupMember> list = await signaling.GetGroupMembersAsync(group, deadline.Token);
                    foreach (GroupMember member in list)
                    {
                        Console.WriteLine($"{member.User} {member.Affiliation.ToString().ToLowerInvariant()}");
                    }

                    Console.WriteLine($"{list.Count} member(s) of {group}");
                    break;
            }

            return 0;
        }
        catch (OptionsValidationException e)
        {
            foreach (string failure in e.Failures)
            {
                await Console.Error.WriteLineAsync($"groupvpn: {file.Name}: {failure}");
            }

            return 2;
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"groupvpn: {e.Message.Split(" (Parameter", 2)[0]}");
            return 2;
        }
        catch (XmppSignalingException e)
        {
            await Console.Error.WriteLineAsync($"groupvpn: {e.Message}");
            return 3;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"groupvpn: the XMPP server did not finish within {Deadline.TotalSeconds:0} s.");
            return 3;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"groupvpn: {e.Message}");
            return 3;
        }
    }

    private static bool TryLoad(FileInfo file, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out XmppSignalingOptions? options, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? group)
    {
        options = null;
        group = null;
        if (!file.Exists)
        {
            Console.Error.WriteLine($"groupvpn: configuration file '{file.FullName}' does not exist.");
            return false;
        }

        IConfigurationRoot config;
        try
        {
            config = new ConfigurationBuilder().AddJsonFile(file.FullName, optional: false).Build();
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"groupvpn: {file.Name}: {e.Message} {e.InnerException?.Message}");
            return false;
        }

        group = config["GroupVpn:Group"];
        if (string.IsNullOrWhiteSpace(group))
        {
            Console.Error.WriteLine($"groupvpn: {file.Name}: GroupVpn:Group is not set; it names the group (room) whose members to manage.");
            return false;
        }

        var xmpp = new XmppSignalingOptions();
        try
        {
            NodeServices.BindStrict(config.GetSection("Xmpp"), xmpp);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the options class, not the key the user wrote: name the key.
            var unknown = System.Text.RegularExpressions.Regex.Match(e.Message, "not found on the instance of [^:]+: (.+)$");
            Console.Error.WriteLine(unknown.Success
                ? $"groupvpn: {file.Name}: unknown key(s) {string.Join(", ", unknown.Groups[1].Value.Split(',').Select(k => "Xmpp:" + k.Trim().Trim('\'')))}."
                : $"groupvpn: {file.Name}: Xmpp: {e.Message}");
            return false;
        }

        // A session of its own beside the node's (another resource); it joins no room as a node.
        xmpp.ResourcePrefix = "groupvpn-members";
        xmpp.Groups.Clear();
        options = xmpp;
        return true;
    }
}
