// platform admin server (example)
console.log('platform-admin-app');
